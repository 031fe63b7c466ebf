"""Category codes of the Home Credit tables with the approximate frequencies of the real data.

Each constant maps a code to its relative weight; `draw` turns one into a pandas Categorical.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

Weights = dict[str, float]

CONTRACT_TYPE: Weights = {"Cash loans": 0.905, "Revolving loans": 0.095}
GENDER: Weights = {"F": 0.658, "M": 0.342, "XNA": 0.00002}
TYPE_SUITE: Weights = {"Unaccompanied": 0.81, "Family": 0.131, "Spouse, partner": 0.037, "Children": 0.0106,
                       "Other_B": 0.0058, "Other_A": 0.0028, "Group of people": 0.0009}
WORKING_INCOME_TYPE: Weights = {"Working": 0.63, "Commercial associate": 0.284, "State servant": 0.086,
                                "Student": 0.0001, "Businessman": 0.00005, "Maternity leave": 0.00003}
NOT_WORKING_INCOME_TYPE: Weights = {"Pensioner": 0.9995, "Unemployed": 0.0005}
EDUCATION: Weights = {"Secondary / secondary special": 0.71, "Higher education": 0.243,
                      "Incomplete higher": 0.033, "Lower secondary": 0.0124, "Academic degree": 0.0005}
FAMILY_STATUS: Weights = {"Married": 0.639, "Single / not married": 0.148, "Civil marriage": 0.097,
                          "Separated": 0.064, "Widow": 0.052, "Unknown": 0.00001}
HOUSING_TYPE: Weights = {"House / apartment": 0.887, "With parents": 0.048, "Municipal apartment": 0.036,
                         "Rented apartment": 0.016, "Office apartment": 0.0085, "Co-op apartment": 0.0036}
OCCUPATION: Weights = {"Laborers": 0.261, "Sales staff": 0.152, "Core staff": 0.131, "Managers": 0.101,
                       "Drivers": 0.088, "High skill tech staff": 0.054, "Accountants": 0.046,
                       "Medicine staff": 0.040, "Security staff": 0.032, "Cooking staff": 0.028,
                       "Cleaning staff": 0.022, "Private service staff": 0.013, "Low-skill Laborers": 0.010,
                       "Waiters/barmen staff": 0.006, "Secretaries": 0.006, "Realty agents": 0.0036,
                       "HR staff": 0.0027, "IT staff": 0.0025}
RISKY_OCCUPATIONS = ("Laborers", "Drivers", "Low-skill Laborers", "Security staff", "Waiters/barmen staff",
                     "Cooking staff")
WEEKDAY: Weights = {"TUESDAY": 0.175, "WEDNESDAY": 0.169, "MONDAY": 0.165, "THURSDAY": 0.164,
                    "FRIDAY": 0.164, "SATURDAY": 0.110, "SUNDAY": 0.053}
PREVIOUS_WEEKDAY: Weights = {"FRIDAY": 0.158, "WEDNESDAY": 0.152, "THURSDAY": 0.148, "MONDAY": 0.148,
                             "TUESDAY": 0.146, "SATURDAY": 0.144, "SUNDAY": 0.103}
ORGANIZATION: Weights = {
    "Business Entity Type 3": 67992, "Self-employed": 38412, "Other": 16683, "Medicine": 11193,
    "Business Entity Type 2": 10553, "Government": 10404, "School": 8893, "Trade: type 7": 7831,
    "Kindergarten": 6880, "Construction": 6721, "Business Entity Type 1": 5984, "Transport: type 4": 5398,
    "Trade: type 3": 3492, "Industry: type 9": 3368, "Industry: type 3": 3278, "Security": 3247,
    "Housing": 2958, "Industry: type 11": 2704, "Military": 2634, "Bank": 2507, "Agriculture": 2454,
    "Police": 2341, "Transport: type 2": 2204, "Postal": 2157, "Security Ministries": 1974,
    "Trade: type 2": 1900, "Restaurant": 1811, "Services": 1575, "University": 1327, "Industry: type 7": 1307,
    "Transport: type 3": 1187, "Industry: type 1": 1039, "Hotel": 966, "Electricity": 950,
    "Industry: type 4": 877, "Trade: type 6": 631, "Industry: type 5": 599, "Insurance": 597, "Telecom": 577,
    "Emergency": 560, "Industry: type 2": 458, "Advertising": 429, "Realtor": 396, "Culture": 379,
    "Industry: type 12": 369, "Trade: type 1": 348, "Mobile": 317, "Legal Services": 305, "Cleaning": 260,
    "Transport: type 1": 201, "Industry: type 6": 112, "Industry: type 10": 109, "Religion": 85,
    "Industry: type 13": 67, "Trade: type 4": 64, "Trade: type 5": 49, "Industry: type 8": 24}
FONDKAPREMONT: Weights = {"reg oper account": 73830, "reg oper spec account": 12080, "not specified": 5687,
                          "org spec account": 5619}
HOUSETYPE: Weights = {"block of flats": 150503, "specific housing": 1499, "terraced house": 1212}
WALLSMATERIAL: Weights = {"Panel": 66040, "Stone, brick": 64815, "Block": 9253, "Wooden": 5362, "Mixed": 2296,
                          "Monolithic": 1779, "Others": 1625}
EMERGENCYSTATE: Weights = {"No": 159428, "Yes": 2328}

CREDIT_CURRENCY: Weights = {"currency 1": 0.99918, "currency 2": 0.00072, "currency 3": 0.00008,
                            "currency 4": 0.00002}
CREDIT_TYPE: Weights = {"Consumer credit": 0.7295, "Credit card": 0.2344, "Car loan": 0.0161,
                        "Mortgage": 0.0107, "Microloan": 0.0072, "Loan for business development": 0.0012,
                        "Another type of loan": 0.0006, "Unknown type of loan": 0.0003,
                        "Loan for working capital replenishment": 0.0002, "Cash loan (non-earmarked)": 0.00003,
                        "Real estate loan": 0.00002, "Loan for the purchase of equipment": 0.00001,
                        "Loan for purchase of shares (margin lending)": 0.000002, "Interbank credit": 0.000001,
                        "Mobile operator loan": 0.000001}
CREDIT_ACTIVE_CODES = ("Closed", "Active", "Sold", "Bad debt")
BUREAU_STATUS_CODES = ("C", "X", "0", "1", "2", "3", "4", "5")

PREVIOUS_CONTRACT_TYPE_CODES = ("Cash loans", "Consumer loans", "Revolving loans", "XNA")
PREVIOUS_STATUS_CODES = ("Approved", "Refused", "Canceled", "Unused offer")
CASH_LOAN_PURPOSE: Weights = {
    "XNA": 0.89, "Repairs": 0.034, "Other": 0.02, "Urgent needs": 0.012, "Buying a used car": 0.004,
    "Building a house or an annex": 0.004, "Everyday expenses": 0.003, "Medicine": 0.003,
    "Payments on other loans": 0.0028, "Education": 0.0023, "Journey": 0.0018, "Purchase of electronic equipment":
    0.0016, "Buying a new car": 0.0016, "Wedding / gift / holiday": 0.0014, "Buying a home": 0.0012,
    "Car repairs": 0.0011, "Furniture": 0.0011, "Buying a holiday home / land": 0.0008,
    "Business development": 0.0006, "Gasification / water supply": 0.0004, "Buying a garage": 0.0002,
    "Hobby": 0.0001, "Money for a third person": 0.00003, "Refusal to name the goal": 0.00003}
PAYMENT_TYPE: Weights = {"Cash through the bank": 0.62, "XNA": 0.37, "Non-cash from your account": 0.005,
                         "Cashless from the account of the employer": 0.001}
REFUSED_REASON: Weights = {"HC": 0.60, "LIMIT": 0.20, "SCO": 0.13, "SCOFR": 0.045, "VERIF": 0.012,
                           "SYSTEM": 0.003, "XNA": 0.01}
GOODS_CATEGORY: Weights = {"Mobile": 0.30, "Consumer Electronics": 0.184, "Computers": 0.143,
                           "Audio/Video": 0.141, "Furniture": 0.076, "Photo / Cinema Equipment": 0.033,
                           "Construction Materials": 0.037, "Clothing and Accessories": 0.028,
                           "Auto Accessories": 0.009, "Jewelry": 0.005, "Homewares": 0.006, "Medical Supplies": 0.005,
                           "Vehicles": 0.0044, "Sport and Leisure": 0.0058, "Gardening": 0.0036, "Other": 0.0057,
                           "Office Appliances": 0.0033, "Tourism": 0.0031, "Medicine": 0.0019,
                           "Direct Sales": 0.0009, "Fitness": 0.0004, "Additional Service": 0.0003,
                           "Education": 0.0002, "Weapon": 0.0001, "Insurance": 0.00004, "Animals": 0.00001}
CONSUMER_CHANNEL: Weights = {"Country-wide": 0.58, "Stone": 0.25, "Regional / Local": 0.155,
                             "Car dealer": 0.0008, "Channel of corporate sales": 0.004}
CASH_CHANNEL: Weights = {"Credit and cash offices": 0.85, "AP+ (Cash loan)": 0.09, "Contact center": 0.055,
                         "Channel of corporate sales": 0.005}
SELLER_INDUSTRY: Weights = {"Consumer electronics": 0.50, "Connectivity": 0.33, "Furniture": 0.072,
                            "Construction": 0.038, "Clothing": 0.028, "Industry": 0.022, "Auto technology": 0.006,
                            "Jewelry": 0.0035, "MLM partners": 0.0014, "Tourism": 0.0006}
YIELD_GROUP: Weights = {"middle": 0.34, "high": 0.31, "low_normal": 0.27, "low_action": 0.08}
POS_STATUS_CODES = ("Active", "Completed", "Signed", "Demand", "Returned to the store", "Approved",
                    "Amortized debt", "Canceled", "XNA")
CARD_STATUS_CODES = ("Active", "Completed", "Signed", "Demand", "Sent proposal", "Refused", "Approved")


def levels(weights: Weights) -> list[str]:
    """Codes of a weight table, in table order."""
    return list(weights)


def draw(rng: np.random.Generator, weights: Weights, n: int) -> np.ndarray:
    """`n` integer codes drawn with the given relative weights."""
    p = np.fromiter(weights.values(), dtype=float)
    return rng.choice(len(p), size=n, p=p / p.sum())


def categorical(codes: np.ndarray, codes_levels: list[str] | tuple[str, ...]) -> pd.Categorical:
    """Pandas Categorical from integer codes (-1 means missing)."""
    return pd.Categorical.from_codes(codes.astype(np.int16, copy=False), categories=list(codes_levels))


def sample(rng: np.random.Generator, weights: Weights, n: int) -> pd.Categorical:
    """`n` codes drawn with the given weights, as a Categorical."""
    return categorical(draw(rng, weights, n), levels(weights))
