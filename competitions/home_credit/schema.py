"""Column names, order and load dtypes of the Home Credit Default Risk competition files.

Facts of the public competition data, embedded so the kit never needs the original files to know them.
Ids and integer columns load as int32, numeric columns that may hold NaN as float32, text columns as
pandas 'category'. Integer columns have no missing values in the real data.
"""
from __future__ import annotations

TABLE_COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "application_train.csv": (
        ("SK_ID_CURR", "int32"),
        ("TARGET", "int32"),
        ("NAME_CONTRACT_TYPE", "category"),
        ("CODE_GENDER", "category"),
        ("FLAG_OWN_CAR", "category"),
        ("FLAG_OWN_REALTY", "category"),
        ("CNT_CHILDREN", "int32"),
        ("AMT_INCOME_TOTAL", "float32"),
        ("AMT_CREDIT", "float32"),
        ("AMT_ANNUITY", "float32"),
        ("AMT_GOODS_PRICE", "float32"),
        ("NAME_TYPE_SUITE", "category"),
        ("NAME_INCOME_TYPE", "category"),
        ("NAME_EDUCATION_TYPE", "category"),
        ("NAME_FAMILY_STATUS", "category"),
        ("NAME_HOUSING_TYPE", "category"),
        ("REGION_POPULATION_RELATIVE", "float32"),
        ("DAYS_BIRTH", "int32"),
        ("DAYS_EMPLOYED", "int32"),
        ("DAYS_REGISTRATION", "float32"),
        ("DAYS_ID_PUBLISH", "int32"),
        ("OWN_CAR_AGE", "float32"),
        ("FLAG_MOBIL", "int32"),
        ("FLAG_EMP_PHONE", "int32"),
        ("FLAG_WORK_PHONE", "int32"),
        ("FLAG_CONT_MOBILE", "int32"),
        ("FLAG_PHONE", "int32"),
        ("FLAG_EMAIL", "int32"),
        ("OCCUPATION_TYPE", "category"),
        ("CNT_FAM_MEMBERS", "float32"),
        ("REGION_RATING_CLIENT", "int32"),
        ("REGION_RATING_CLIENT_W_CITY", "int32"),
        ("WEEKDAY_APPR_PROCESS_START", "category"),
        ("HOUR_APPR_PROCESS_START", "int32"),
        ("REG_REGION_NOT_LIVE_REGION", "int32"),
        ("REG_REGION_NOT_WORK_REGION", "int32"),
        ("LIVE_REGION_NOT_WORK_REGION", "int32"),
        ("REG_CITY_NOT_LIVE_CITY", "int32"),
        ("REG_CITY_NOT_WORK_CITY", "int32"),
        ("LIVE_CITY_NOT_WORK_CITY", "int32"),
        ("ORGANIZATION_TYPE", "category"),
        ("EXT_SOURCE_1", "float32"),
        ("EXT_SOURCE_2", "float32"),
        ("EXT_SOURCE_3", "float32"),
        ("APARTMENTS_AVG", "float32"),
        ("BASEMENTAREA_AVG", "float32"),
        ("YEARS_BEGINEXPLUATATION_AVG", "float32"),
        ("YEARS_BUILD_AVG", "float32"),
        ("COMMONAREA_AVG", "float32"),
        ("ELEVATORS_AVG", "float32"),
        ("ENTRANCES_AVG", "float32"),
        ("FLOORSMAX_AVG", "float32"),
        ("FLOORSMIN_AVG", "float32"),
        ("LANDAREA_AVG", "float32"),
        ("LIVINGAPARTMENTS_AVG", "float32"),
        ("LIVINGAREA_AVG", "float32"),
        ("NONLIVINGAPARTMENTS_AVG", "float32"),
        ("NONLIVINGAREA_AVG", "float32"),
        ("APARTMENTS_MODE", "float32"),
        ("BASEMENTAREA_MODE", "float32"),
        ("YEARS_BEGINEXPLUATATION_MODE", "float32"),
        ("YEARS_BUILD_MODE", "float32"),
        ("COMMONAREA_MODE", "float32"),
        ("ELEVATORS_MODE", "float32"),
        ("ENTRANCES_MODE", "float32"),
        ("FLOORSMAX_MODE", "float32"),
        ("FLOORSMIN_MODE", "float32"),
        ("LANDAREA_MODE", "float32"),
        ("LIVINGAPARTMENTS_MODE", "float32"),
        ("LIVINGAREA_MODE", "float32"),
        ("NONLIVINGAPARTMENTS_MODE", "float32"),
        ("NONLIVINGAREA_MODE", "float32"),
        ("APARTMENTS_MEDI", "float32"),
        ("BASEMENTAREA_MEDI", "float32"),
        ("YEARS_BEGINEXPLUATATION_MEDI", "float32"),
        ("YEARS_BUILD_MEDI", "float32"),
        ("COMMONAREA_MEDI", "float32"),
        ("ELEVATORS_MEDI", "float32"),
        ("ENTRANCES_MEDI", "float32"),
        ("FLOORSMAX_MEDI", "float32"),
        ("FLOORSMIN_MEDI", "float32"),
        ("LANDAREA_MEDI", "float32"),
        ("LIVINGAPARTMENTS_MEDI", "float32"),
        ("LIVINGAREA_MEDI", "float32"),
        ("NONLIVINGAPARTMENTS_MEDI", "float32"),
        ("NONLIVINGAREA_MEDI", "float32"),
        ("FONDKAPREMONT_MODE", "category"),
        ("HOUSETYPE_MODE", "category"),
        ("TOTALAREA_MODE", "float32"),
        ("WALLSMATERIAL_MODE", "category"),
        ("EMERGENCYSTATE_MODE", "category"),
        ("OBS_30_CNT_SOCIAL_CIRCLE", "float32"),
        ("DEF_30_CNT_SOCIAL_CIRCLE", "float32"),
        ("OBS_60_CNT_SOCIAL_CIRCLE", "float32"),
        ("DEF_60_CNT_SOCIAL_CIRCLE", "float32"),
        ("DAYS_LAST_PHONE_CHANGE", "float32"),
        ("FLAG_DOCUMENT_2", "int32"),
        ("FLAG_DOCUMENT_3", "int32"),
        ("FLAG_DOCUMENT_4", "int32"),
        ("FLAG_DOCUMENT_5", "int32"),
        ("FLAG_DOCUMENT_6", "int32"),
        ("FLAG_DOCUMENT_7", "int32"),
        ("FLAG_DOCUMENT_8", "int32"),
        ("FLAG_DOCUMENT_9", "int32"),
        ("FLAG_DOCUMENT_10", "int32"),
        ("FLAG_DOCUMENT_11", "int32"),
        ("FLAG_DOCUMENT_12", "int32"),
        ("FLAG_DOCUMENT_13", "int32"),
        ("FLAG_DOCUMENT_14", "int32"),
        ("FLAG_DOCUMENT_15", "int32"),
        ("FLAG_DOCUMENT_16", "int32"),
        ("FLAG_DOCUMENT_17", "int32"),
        ("FLAG_DOCUMENT_18", "int32"),
        ("FLAG_DOCUMENT_19", "int32"),
        ("FLAG_DOCUMENT_20", "int32"),
        ("FLAG_DOCUMENT_21", "int32"),
        ("AMT_REQ_CREDIT_BUREAU_HOUR", "float32"),
        ("AMT_REQ_CREDIT_BUREAU_DAY", "float32"),
        ("AMT_REQ_CREDIT_BUREAU_WEEK", "float32"),
        ("AMT_REQ_CREDIT_BUREAU_MON", "float32"),
        ("AMT_REQ_CREDIT_BUREAU_QRT", "float32"),
        ("AMT_REQ_CREDIT_BUREAU_YEAR", "float32"),
    ),
    "bureau.csv": (
        ("SK_ID_CURR", "int32"),
        ("SK_ID_BUREAU", "int32"),
        ("CREDIT_ACTIVE", "category"),
        ("CREDIT_CURRENCY", "category"),
        ("DAYS_CREDIT", "int32"),
        ("CREDIT_DAY_OVERDUE", "int32"),
        ("DAYS_CREDIT_ENDDATE", "float32"),
        ("DAYS_ENDDATE_FACT", "float32"),
        ("AMT_CREDIT_MAX_OVERDUE", "float32"),
        ("CNT_CREDIT_PROLONG", "int32"),
        ("AMT_CREDIT_SUM", "float32"),
        ("AMT_CREDIT_SUM_DEBT", "float32"),
        ("AMT_CREDIT_SUM_LIMIT", "float32"),
        ("AMT_CREDIT_SUM_OVERDUE", "float32"),
        ("CREDIT_TYPE", "category"),
        ("DAYS_CREDIT_UPDATE", "int32"),
        ("AMT_ANNUITY", "float32"),
    ),
    "bureau_balance.csv": (
        ("SK_ID_BUREAU", "int32"),
        ("MONTHS_BALANCE", "int32"),
        ("STATUS", "category"),
    ),
    "previous_application.csv": (
        ("SK_ID_PREV", "int32"),
        ("SK_ID_CURR", "int32"),
        ("NAME_CONTRACT_TYPE", "category"),
        ("AMT_ANNUITY", "float32"),
        ("AMT_APPLICATION", "float32"),
        ("AMT_CREDIT", "float32"),
        ("AMT_DOWN_PAYMENT", "float32"),
        ("AMT_GOODS_PRICE", "float32"),
        ("WEEKDAY_APPR_PROCESS_START", "category"),
        ("HOUR_APPR_PROCESS_START", "int32"),
        ("FLAG_LAST_APPL_PER_CONTRACT", "category"),
        ("NFLAG_LAST_APPL_IN_DAY", "int32"),
        ("RATE_DOWN_PAYMENT", "float32"),
        ("RATE_INTEREST_PRIMARY", "float32"),
        ("RATE_INTEREST_PRIVILEGED", "float32"),
        ("NAME_CASH_LOAN_PURPOSE", "category"),
        ("NAME_CONTRACT_STATUS", "category"),
        ("DAYS_DECISION", "int32"),
        ("NAME_PAYMENT_TYPE", "category"),
        ("CODE_REJECT_REASON", "category"),
        ("NAME_TYPE_SUITE", "category"),
        ("NAME_CLIENT_TYPE", "category"),
        ("NAME_GOODS_CATEGORY", "category"),
        ("NAME_PORTFOLIO", "category"),
        ("NAME_PRODUCT_TYPE", "category"),
        ("CHANNEL_TYPE", "category"),
        ("SELLERPLACE_AREA", "int32"),
        ("NAME_SELLER_INDUSTRY", "category"),
        ("CNT_PAYMENT", "float32"),
        ("NAME_YIELD_GROUP", "category"),
        ("PRODUCT_COMBINATION", "category"),
        ("DAYS_FIRST_DRAWING", "float32"),
        ("DAYS_FIRST_DUE", "float32"),
        ("DAYS_LAST_DUE_1ST_VERSION", "float32"),
        ("DAYS_LAST_DUE", "float32"),
        ("DAYS_TERMINATION", "float32"),
        ("NFLAG_INSURED_ON_APPROVAL", "float32"),
    ),
    "POS_CASH_balance.csv": (
        ("SK_ID_PREV", "int32"),
        ("SK_ID_CURR", "int32"),
        ("MONTHS_BALANCE", "int32"),
        ("CNT_INSTALMENT", "float32"),
        ("CNT_INSTALMENT_FUTURE", "float32"),
        ("NAME_CONTRACT_STATUS", "category"),
        ("SK_DPD", "int32"),
        ("SK_DPD_DEF", "int32"),
    ),
    "installments_payments.csv": (
        ("SK_ID_PREV", "int32"),
        ("SK_ID_CURR", "int32"),
        ("NUM_INSTALMENT_VERSION", "float32"),
        ("NUM_INSTALMENT_NUMBER", "int32"),
        ("DAYS_INSTALMENT", "float32"),
        ("DAYS_ENTRY_PAYMENT", "float32"),
        ("AMT_INSTALMENT", "float32"),
        ("AMT_PAYMENT", "float32"),
    ),
    "credit_card_balance.csv": (
        ("SK_ID_PREV", "int32"),
        ("SK_ID_CURR", "int32"),
        ("MONTHS_BALANCE", "int32"),
        ("AMT_BALANCE", "float32"),
        ("AMT_CREDIT_LIMIT_ACTUAL", "int32"),
        ("AMT_DRAWINGS_ATM_CURRENT", "float32"),
        ("AMT_DRAWINGS_CURRENT", "float32"),
        ("AMT_DRAWINGS_OTHER_CURRENT", "float32"),
        ("AMT_DRAWINGS_POS_CURRENT", "float32"),
        ("AMT_INST_MIN_REGULARITY", "float32"),
        ("AMT_PAYMENT_CURRENT", "float32"),
        ("AMT_PAYMENT_TOTAL_CURRENT", "float32"),
        ("AMT_RECEIVABLE_PRINCIPAL", "float32"),
        ("AMT_RECIVABLE", "float32"),
        ("AMT_TOTAL_RECEIVABLE", "float32"),
        ("CNT_DRAWINGS_ATM_CURRENT", "float32"),
        ("CNT_DRAWINGS_CURRENT", "int32"),
        ("CNT_DRAWINGS_OTHER_CURRENT", "float32"),
        ("CNT_DRAWINGS_POS_CURRENT", "float32"),
        ("CNT_INSTALMENT_MATURE_CUM", "float32"),
        ("NAME_CONTRACT_STATUS", "category"),
        ("SK_DPD", "int32"),
        ("SK_DPD_DEF", "int32"),
    ),
}
# The test file is the train file without TARGET.
TABLE_COLUMNS["application_test.csv"] = tuple(
    column for column in TABLE_COLUMNS["application_train.csv"] if column[0] != "TARGET")

ID_COLUMNS = ("SK_ID_CURR", "SK_ID_BUREAU", "SK_ID_PREV")
"""Keys linking the tables: SK_ID_CURR (client application), SK_ID_BUREAU (bureau credit), SK_ID_PREV
(previous Home Credit loan)."""

SENTINEL_DAYS = 365243
"""Day count the real data uses for 'not applicable' (DAYS_EMPLOYED of pensioners, previous-loan dates)."""

SENTINEL_COLUMNS: dict[str, tuple[str, ...]] = {
    "application_train.csv": ("DAYS_EMPLOYED",),
    "application_test.csv": ("DAYS_EMPLOYED",),
    "previous_application.csv": ("DAYS_FIRST_DRAWING", "DAYS_FIRST_DUE", "DAYS_LAST_DUE_1ST_VERSION",
                                 "DAYS_LAST_DUE", "DAYS_TERMINATION"),
}

LABEL_VALUES: dict[str, dict[str, tuple[int, ...]]] = {"application_train.csv": {"TARGET": (0, 1)}}
"""Columns that decide a row's role: every row of the file needs one of these values. A train client
with an empty TARGET would otherwise be read as a test client (the train and test applications are
stacked and told apart by TARGET), so loading refuses it instead of guessing."""

SAMPLE_SUBMISSION_COLUMNS = ("SK_ID_CURR", "TARGET")
DESCRIPTION_FILE = "HomeCredit_columns_description.csv"
DESCRIPTION_COLUMNS = ("", "Table", "Row", "Description", "Special")
"""The real description file starts with an unnamed index column (pandas reads it as 'Unnamed: 0')."""


def table_names() -> list[str]:
    """File names of the eight data tables, in a fixed order."""
    return list(TABLE_COLUMNS)


def columns(table: str) -> list[str]:
    """Ordered column names of `table` (a file name such as 'bureau.csv')."""
    return [name for name, _ in _spec(table)]


def dtypes(table: str) -> dict[str, str]:
    """Column -> load dtype of `table`, ready for `pandas.read_csv(..., dtype=dtypes(table))`."""
    return dict(_spec(table))


def _spec(table: str) -> tuple[tuple[str, str], ...]:
    try:
        return TABLE_COLUMNS[table]
    except KeyError:
        raise KeyError(f"unknown Home Credit table {table!r}; known: {', '.join(TABLE_COLUMNS)}") from None
