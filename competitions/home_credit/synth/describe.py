"""HomeCredit_columns_description.csv in the kit's own words (same layout as the competition's file)."""
from __future__ import annotations

import csv
from pathlib import Path

from competitions.home_credit.schema import DESCRIPTION_COLUMNS, columns
from competitions.home_credit.synth.application import BUILDING_MEASURES

APPLICATION_LABEL = "application_{train|test}.csv"
RELATIVE = "days before the application, negative"
SCALED = "scaled to 0..1"

_BUILDING = {"APARTMENTS": "apartment size", "BASEMENTAREA": "basement area",
             "YEARS_BEGINEXPLUATATION": "age of the building's use", "YEARS_BUILD": "building age",
             "COMMONAREA": "common area", "ELEVATORS": "number of lifts", "ENTRANCES": "number of entrances",
             "FLOORSMAX": "highest floor", "FLOORSMIN": "lowest floor", "LANDAREA": "land area",
             "LIVINGAPARTMENTS": "living apartments", "LIVINGAREA": "living area",
             "NONLIVINGAPARTMENTS": "non-living apartments", "NONLIVINGAREA": "non-living area"}
_STAT = {"AVG": "mean", "MODE": "most frequent value", "MEDI": "median"}

_TEXT: dict[str, str] = {
    "SK_ID_CURR": "Client application id; links every table to the application",
    "TARGET": "1 when the client later had trouble repaying (a long delay on an early instalment), else 0; train only",
    "NAME_CONTRACT_TYPE": "Kind of loan applied for (cash or revolving)",
    "CODE_GENDER": "Client gender code", "FLAG_OWN_CAR": "Y when the client owns a car",
    "FLAG_OWN_REALTY": "Y when the client owns a home or flat", "CNT_CHILDREN": "Number of children",
    "AMT_INCOME_TOTAL": "Declared income", "AMT_CREDIT": "Amount lent", "AMT_ANNUITY": "Monthly repayment",
    "AMT_GOODS_PRICE": "Price of the goods the loan pays for",
    "NAME_TYPE_SUITE": "Who came with the client to apply", "NAME_INCOME_TYPE": "Source of income",
    "NAME_EDUCATION_TYPE": "Highest education", "NAME_FAMILY_STATUS": "Family status",
    "NAME_HOUSING_TYPE": "Housing situation", "REGION_POPULATION_RELATIVE": "How populous the client's region is",
    "DAYS_BIRTH": "Age in days", "DAYS_EMPLOYED": "Days in the current job; 365243 when not employed",
    "DAYS_REGISTRATION": "Days since the client last changed registration",
    "DAYS_ID_PUBLISH": "Days since the identity document was issued", "OWN_CAR_AGE": "Age of the client's car in years",
    "FLAG_MOBIL": "1 when a mobile phone was given", "FLAG_EMP_PHONE": "1 when an employer phone was given",
    "FLAG_WORK_PHONE": "1 when a work phone was given", "FLAG_CONT_MOBILE": "1 when the mobile phone answered",
    "FLAG_PHONE": "1 when a home phone was given", "FLAG_EMAIL": "1 when an e-mail address was given",
    "OCCUPATION_TYPE": "Occupation", "CNT_FAM_MEMBERS": "Family size",
    "REGION_RATING_CLIENT": "Lender's rating of the region (1 best, 3 worst)",
    "REGION_RATING_CLIENT_W_CITY": "Lender's rating of the region and city (1 best, 3 worst)",
    "WEEKDAY_APPR_PROCESS_START": "Weekday the application was made",
    "HOUR_APPR_PROCESS_START": "Hour the application was made",
    "REG_REGION_NOT_LIVE_REGION": "1 when the registered and the contact region differ",
    "REG_REGION_NOT_WORK_REGION": "1 when the registered and the work region differ",
    "LIVE_REGION_NOT_WORK_REGION": "1 when the contact and the work region differ",
    "REG_CITY_NOT_LIVE_CITY": "1 when the registered and the contact city differ",
    "REG_CITY_NOT_WORK_CITY": "1 when the registered and the work city differ",
    "LIVE_CITY_NOT_WORK_CITY": "1 when the contact and the work city differ",
    "ORGANIZATION_TYPE": "Employer's sector; XNA when not employed",
    "EXT_SOURCE_1": "Score from outside source 1", "EXT_SOURCE_2": "Score from outside source 2",
    "EXT_SOURCE_3": "Score from outside source 3",
    "FONDKAPREMONT_MODE": "Building repair fund type", "HOUSETYPE_MODE": "Building type",
    "TOTALAREA_MODE": "Total building area", "WALLSMATERIAL_MODE": "Wall material",
    "EMERGENCYSTATE_MODE": "Whether the building is in emergency state",
    "OBS_30_CNT_SOCIAL_CIRCLE": "Acquaintances seen with a 30-day delay",
    "DEF_30_CNT_SOCIAL_CIRCLE": "Acquaintances who defaulted with a 30-day delay",
    "OBS_60_CNT_SOCIAL_CIRCLE": "Acquaintances seen with a 60-day delay",
    "DEF_60_CNT_SOCIAL_CIRCLE": "Acquaintances who defaulted with a 60-day delay",
    "DAYS_LAST_PHONE_CHANGE": "Days since the phone number changed",
    "SK_ID_BUREAU": "Id of a credit reported by the credit bureau; links bureau and bureau_balance",
    "SK_ID_PREV": "Id of an earlier Home Credit loan; links the previous-loan tables",
    "CREDIT_ACTIVE": "State of the bureau credit", "CREDIT_CURRENCY": "Currency code of the credit",
    "DAYS_CREDIT": "Days before the application that the client asked for this credit",
    "CREDIT_DAY_OVERDUE": "Days overdue at the time of the application",
    "DAYS_CREDIT_ENDDATE": "Planned end of the credit, days relative to the application",
    "DAYS_ENDDATE_FACT": "Actual end of a closed credit, days relative to the application",
    "AMT_CREDIT_MAX_OVERDUE": "Largest amount ever overdue", "CNT_CREDIT_PROLONG": "Times the credit was extended",
    "AMT_CREDIT_SUM": "Credit amount", "AMT_CREDIT_SUM_DEBT": "Remaining debt",
    "AMT_CREDIT_SUM_LIMIT": "Card limit still available", "AMT_CREDIT_SUM_OVERDUE": "Amount overdue now",
    "CREDIT_TYPE": "Kind of credit", "DAYS_CREDIT_UPDATE": "Days since the bureau last updated the credit",
    "MONTHS_BALANCE": "Month of the record relative to the application (-1 = latest month)",
    "STATUS": "Monthly state: C closed, X unknown, 0 no delay, 1..5 delay buckets of 30 days (5 = sold or written off)",
    "CNT_INSTALMENT": "Term of the loan in instalments", "CNT_INSTALMENT_FUTURE": "Instalments still to pay",
    "NAME_CONTRACT_STATUS": "Contract state", "SK_DPD": "Days past due this month",
    "SK_DPD_DEF": "Days past due this month, counting only delays above a tolerance",
    "NUM_INSTALMENT_VERSION": "Version of the repayment calendar (0 for cards)",
    "NUM_INSTALMENT_NUMBER": "Instalment number", "DAYS_INSTALMENT": "Day the instalment was due",
    "DAYS_ENTRY_PAYMENT": "Day it was actually paid", "AMT_INSTALMENT": "Amount due",
    "AMT_PAYMENT": "Amount paid in this payment",
    "AMT_BALANCE": "Card balance", "AMT_CREDIT_LIMIT_ACTUAL": "Card limit this month",
    "AMT_DRAWINGS_ATM_CURRENT": "Cash withdrawn this month", "AMT_DRAWINGS_CURRENT": "All drawings this month",
    "AMT_DRAWINGS_OTHER_CURRENT": "Other drawings this month", "AMT_DRAWINGS_POS_CURRENT": "Purchases this month",
    "AMT_INST_MIN_REGULARITY": "Minimum instalment this month", "AMT_PAYMENT_CURRENT": "Paid this month",
    "AMT_PAYMENT_TOTAL_CURRENT": "Total paid this month", "AMT_RECEIVABLE_PRINCIPAL": "Principal owed",
    "AMT_RECIVABLE": "Amount owed", "AMT_TOTAL_RECEIVABLE": "Total amount owed",
    "CNT_DRAWINGS_ATM_CURRENT": "Cash withdrawals this month", "CNT_DRAWINGS_CURRENT": "Drawings this month",
    "CNT_DRAWINGS_OTHER_CURRENT": "Other drawings this month (count)",
    "CNT_DRAWINGS_POS_CURRENT": "Purchases this month (count)",
    "CNT_INSTALMENT_MATURE_CUM": "Instalments paid so far",
    "AMT_APPLICATION": "Amount asked for", "AMT_DOWN_PAYMENT": "Down payment",
    "FLAG_LAST_APPL_PER_CONTRACT": "Y for the last application of a contract",
    "NFLAG_LAST_APPL_IN_DAY": "1 for the last application of the day",
    "RATE_DOWN_PAYMENT": "Down payment as a share of the price", "RATE_INTEREST_PRIMARY": "Interest rate",
    "RATE_INTEREST_PRIVILEGED": "Preferential interest rate", "NAME_CASH_LOAN_PURPOSE": "Purpose of a cash loan",
    "DAYS_DECISION": "Day of the decision on the earlier application", "NAME_PAYMENT_TYPE": "Repayment method",
    "CODE_REJECT_REASON": "Reason for refusal (XAP: not applicable)", "NAME_CLIENT_TYPE": "New or returning client",
    "NAME_GOODS_CATEGORY": "Goods bought", "NAME_PORTFOLIO": "Product line", "NAME_PRODUCT_TYPE": "Sales route",
    "CHANNEL_TYPE": "Sales channel", "SELLERPLACE_AREA": "Seller's area", "NAME_SELLER_INDUSTRY": "Seller's trade",
    "CNT_PAYMENT": "Term in months", "NAME_YIELD_GROUP": "Interest band", "PRODUCT_COMBINATION": "Product detail",
    "DAYS_FIRST_DRAWING": "First drawing; 365243 when not applicable", "DAYS_FIRST_DUE": "First due date",
    "DAYS_LAST_DUE_1ST_VERSION": "Last due date as first planned", "DAYS_LAST_DUE": "Last due date",
    "DAYS_TERMINATION": "Expected end", "NFLAG_INSURED_ON_APPROVAL": "1 when insurance was requested",
}
_PER_TABLE = {("previous_application.csv", "NAME_CONTRACT_TYPE"): "Kind of earlier loan",
              ("previous_application.csv", "AMT_ANNUITY"): "Monthly repayment of the earlier loan",
              ("previous_application.csv", "AMT_CREDIT"): "Amount finally granted",
              ("previous_application.csv", "NAME_CONTRACT_STATUS"): "Outcome of the application",
              ("bureau.csv", "AMT_ANNUITY"): "Monthly repayment of the bureau credit"}
_TABLE_ORDER = ("application_train.csv", "bureau.csv", "bureau_balance.csv", "POS_CASH_balance.csv",
                "credit_card_balance.csv", "previous_application.csv", "installments_payments.csv")


def describe(table: str, column: str) -> tuple[str, str]:
    """(description, special note) of one column."""
    if (table, column) in _PER_TABLE:
        text = _PER_TABLE[(table, column)]
    elif column.startswith("FLAG_DOCUMENT_"):
        text = f"1 when the client handed in document {column.rsplit('_', 1)[1]}"
    elif column.startswith("AMT_REQ_CREDIT_BUREAU_"):
        text = f"Bureau enquiries about the client in the {column.rsplit('_', 1)[1].lower()} window before applying"
    elif column.rsplit("_", 1)[0] in BUILDING_MEASURES:
        measure, stat = column.rsplit("_", 1)
        text = f"Building of the client: {_BUILDING[measure]} ({_STAT[stat]})"
    else:
        text = _TEXT[column]
    special = ""
    if column.startswith("DAYS_"):
        special = RELATIVE
    elif column.startswith("EXT_SOURCE_") or column.rsplit("_", 1)[-1] in _STAT or column == "TOTALAREA_MODE":
        special = SCALED
    return text, special


def write_descriptions(path: Path) -> None:
    """Write the description file: an unnamed index column, then Table, Row, Description, Special."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(DESCRIPTION_COLUMNS)
        index = 1
        for table in _TABLE_ORDER:
            label = APPLICATION_LABEL if table.startswith("application") else table
            for column in columns(table):
                writer.writerow([index, label, column, *describe(table, column)])
                index += 1
