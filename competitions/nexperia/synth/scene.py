"""Draw a packaged device in its carrier pocket, and the camera's nuisance variation.

Coordinates are pixels, x to the right (width 275), y down (height 267). The device sits around
(126, 145) so that everything a defect can touch lies in the real data's central band
(x 10-242, y 86-204). Images are built in float32 and turned into uint8 at the end.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import zlib

import cv2
import numpy as np

HEIGHT, WIDTH = 267, 275
CENTER = (126.0, 145.0)
BAND = (10, 86, 242, 204)  # x_1, y_1, x_2, y_2 of the region defects (and their boxes) live in

_GRID_X = (np.arange(WIDTH, dtype=np.float32) - WIDTH / 2) / WIDTH
_GRID_Y = (np.arange(HEIGHT, dtype=np.float32) - HEIGHT / 2) / HEIGHT
_MARK_CHARS = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"


@dataclass(frozen=True)
class Product:
    """A device type: its product code (part of the image id) and its geometry."""

    code: str
    body_w: int
    body_h: int
    leads_per_side: int
    lead_len: int
    lead_w: int
    marking: str


PRODUCTS: tuple[Product, ...] = (
    Product("21-5CW-ITISA46-1", 130, 88, 3, 36, 16, "N21"),
    Product("13-3BW-ITISA22-2", 118, 80, 2, 40, 22, "B13"),
    Product("24-6CW-BTISB51-1", 140, 94, 3, 30, 14, "C24"),
    Product("11-2AW-ITISC18-3", 124, 84, 4, 34, 11, "A11"),
)

Box = tuple[int, int, int, int]


@dataclass
class Layout:
    """Where the parts of one drawn scene are, for the defect painters."""

    floor_val: float
    body_val: float
    lead_val: float
    pocket: Box
    body: Box | None = None
    leads: list[Box] = field(default_factory=list)
    lead_sides: list[int] = field(default_factory=list)  # -1 left, +1 right
    marking_chars: list[Box] = field(default_factory=list)
    marking_val: float = 0.0

    @property
    def device_box(self) -> Box:
        boxes = [self.body, *self.leads] if self.body else list(self.leads)
        return union_boxes(boxes)

    def on_device(self, x: float, y: float, pad: float = 0) -> bool:
        return any(_inside(b, x, y, pad) for b in ([self.body] if self.body else []) + self.leads)


def union_boxes(boxes: list[Box]) -> Box:
    xs1, ys1, xs2, ys2 = zip(*boxes)
    return min(xs1), min(ys1), max(xs2), max(ys2)


def _inside(b: Box, x: float, y: float, pad: float = 0) -> bool:
    return b[0] - pad <= x <= b[2] + pad and b[1] - pad <= y <= b[3] + pad


def smooth_noise(rng: np.random.Generator, shape: tuple[int, int], cell: int, amp: float) -> np.ndarray:
    """Low-frequency texture: coarse Gaussian noise upsampled to ``shape``."""
    coarse = rng.standard_normal((shape[0] // cell + 2, shape[1] // cell + 2), dtype=np.float32)
    return cv2.resize(coarse, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC) * amp


def grain(rng: np.random.Generator, shape: tuple[int, int], amp: float) -> np.ndarray:
    return rng.standard_normal(shape, dtype=np.float32) * amp


def draw_background(rng: np.random.Generator) -> tuple[np.ndarray, Layout]:
    """Carrier tape with sprocket holes and an empty pocket; returns the image and a layout."""
    tape = rng.uniform(70, 100)
    img = np.full((HEIGHT, WIDTH), tape, np.float32) + smooth_noise(rng, (HEIGHT, WIDTH), 24, 5)
    hole_y, phase = int(rng.uniform(18, 28)), rng.uniform(0, 90)
    for x in np.arange(phase - 90, WIDTH + 90, 90):
        cv2.circle(img, (int(x), hole_y), 13, float(tape * 0.2), -1, cv2.LINE_AA)
    px, py = rng.integers(-3, 4, size=2)
    pocket = (int(6 + px), int(64 + py), int(248 + px), int(226 + py))
    floor = rng.uniform(105, 140)
    x1, y1, x2, y2 = pocket
    img[y1:y2, x1:x2] = floor + smooth_noise(rng, (y2 - y1, x2 - x1), 16, 4)
    cv2.rectangle(img, (x1, y1), (x2 - 1, y2 - 1), float(floor + 45), 2)
    cv2.rectangle(img, (x1 + 2, y1 + 2), (x2 - 3, y1 + 4), float(floor - 35), -1)  # wall shadow
    cv2.rectangle(img, (x1 + 2, y1 + 2), (x1 + 4, y2 - 3), float(floor - 35), -1)
    return img, Layout(floor_val=floor, body_val=0.0, lead_val=0.0, pocket=pocket)


def place_device(rng: np.random.Generator, product: Product, lay: Layout) -> None:
    """Choose where the body and leads go (a few pixels of play in the pocket)."""
    dx, dy = rng.uniform(-4, 4), rng.uniform(-3, 3)
    cx, cy = CENTER[0] + dx, CENTER[1] + dy
    hw, hh = product.body_w / 2, product.body_h / 2
    lay.body = (int(cx - hw), int(cy - hh), int(cx + hw), int(cy + hh))
    n, lw, ll = product.leads_per_side, product.lead_w, product.lead_len
    pitch = product.body_h / n
    lay.leads, lay.lead_sides = [], []
    for side in (-1, 1):
        root = lay.body[0] if side < 0 else lay.body[2]
        for i in range(n):
            yc = lay.body[1] + pitch * (i + 0.5)
            xa, xb = (root - ll, root + 4) if side < 0 else (root - 4, root + ll)
            lay.leads.append((int(xa), int(yc - lw / 2), int(xb), int(yc + lw / 2)))
            lay.lead_sides.append(side)


def draw_lead(img: np.ndarray, b: Box, side: int, value: float, rng: np.random.Generator) -> None:
    """A bright metal lead with a shading gradient along its length and a darker bend line."""
    x1, y1, x2, y2 = b
    w = x2 - x1
    ramp = np.linspace(-18, 12, w, dtype=np.float32)
    if side < 0:
        ramp = ramp[::-1]
    img[y1:y2, x1:x2] = value + ramp[None, :] + grain(rng, (y2 - y1, w), 4)
    knee = x1 + w // 3 if side > 0 else x2 - w // 3
    img[y1:y2, knee - 1:knee + 2] -= 45


def date_code(lot: str) -> str:
    """The 4-character date code marked on every device of a production lot."""
    h = zlib.crc32(lot.encode())
    return "".join(_MARK_CHARS[(h >> (5 * k)) % len(_MARK_CHARS)] for k in range(4))


def draw_device(img: np.ndarray, product: Product, date: str, lay: Layout, rng: np.random.Generator,
                flipped: bool = False) -> None:
    """Shadow, leads, body, pin-1 dimple and marking; a flipped device shows its bare underside."""
    lay.lead_val = rng.uniform(185, 225)
    bx1, by1, bx2, by2 = lay.body
    shadow = np.zeros_like(img)
    for b in [lay.body, *lay.leads]:
        cv2.rectangle(shadow, (b[0] + 3, b[1] + 3), (b[2] + 3, b[3] + 3), 1.0, -1)
    img *= 1 - 0.35 * cv2.blur(shadow, (5, 5))
    for b, side in zip(lay.leads, lay.lead_sides):
        if flipped:  # seen from below only the flat foot of each lead shows
            foot = (b[0], b[1] + 2, b[0] + (b[2] - b[0]) // 2, b[3] - 2) if side < 0 else \
                (b[0] + (b[2] - b[0]) // 2, b[1] + 2, b[2], b[3] - 2)
            draw_lead(img, foot, side, lay.lead_val - 25, rng)
        else:
            draw_lead(img, b, side, lay.lead_val, rng)
    lay.body_val = rng.uniform(65, 90) if flipped else rng.uniform(30, 55)
    img[by1:by2, bx1:bx2] = lay.body_val + grain(rng, (by2 - by1, bx2 - bx1), 3.0)
    cv2.rectangle(img, (bx1, by1), (bx2 - 1, by2 - 1), float(lay.body_val + 22), 2)
    if flipped:
        cx, cy = (bx1 + bx2) // 2, (by1 + by2) // 2
        for ox in (-0.28, 0.28):
            cv2.circle(img, (int(cx + ox * (bx2 - bx1)), cy), 12, float(lay.body_val - 14), -1, cv2.LINE_AA)
        return
    cv2.circle(img, (bx1 + 11, by1 + 11), 4, float(lay.body_val + 12), -1, cv2.LINE_AA)
    draw_marking(img, product.marking, date, lay, rng)


def draw_marking(img: np.ndarray, mark: str, date: str, lay: Layout, rng: np.random.Generator) -> None:
    """Two lines of laser marking: the product mark and the lot's date code."""
    bx1, by1, bx2, by2 = lay.body
    cx, cy = (bx1 + bx2) / 2 + rng.uniform(-2, 2), (by1 + by2) / 2 + rng.uniform(-2, 2)
    lay.marking_val = lay.body_val + rng.uniform(55, 95)
    mask = np.zeros(img.shape, np.uint8)
    lay.marking_chars = []
    for text, scale, thick, yc in ((mark, 1.0, 2, cy - 12), (date, 0.7, 2, cy + 18)):
        (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
        x0, base = int(cx - tw / 2), int(yc + th / 2)
        cv2.putText(mask, text, (x0, base), cv2.FONT_HERSHEY_SIMPLEX, scale, 255, thick, cv2.LINE_AA)
        for i in range(len(text)):
            a = cv2.getTextSize(text[:i], cv2.FONT_HERSHEY_SIMPLEX, scale, thick)[0][0] if i else 0
            b = cv2.getTextSize(text[:i + 1], cv2.FONT_HERSHEY_SIMPLEX, scale, thick)[0][0]
            lay.marking_chars.append((x0 + a - 1, base - th - 2, x0 + b + 1, base + 3))
    m = mask.astype(np.float32) / 255
    img += m * (lay.marking_val - img)


def apply_camera(img: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Small rotation, uneven lighting, gain/offset/gamma, blur and sensor noise -> uint8.

    Returns the image and the 2x3 affine matrix of the rotation (to move defect boxes with it).
    """
    m = cv2.getRotationMatrix2D(CENTER, rng.uniform(-0.75, 0.75), 1.0)
    img = cv2.warpAffine(img, m, (WIDTH, HEIGHT), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    light = 1 + rng.uniform(-0.2, 0.2) * _GRID_X[None, :] + rng.uniform(-0.2, 0.2) * _GRID_Y[:, None]
    img = img * light * rng.uniform(0.8, 1.2) + rng.uniform(-20, 20)
    gamma = rng.uniform(0.85, 1.15)
    img = 255 * (np.clip(img, 0, 255) / 255) ** gamma
    img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.3, 0.8))
    img += grain(rng, img.shape, rng.uniform(1.5, 4))
    return np.clip(img + 0.5, 0, 255).astype(np.uint8), m


def move_box(b: Box, m: np.ndarray, pad: int = 1) -> Box:
    """The box around ``b`` after the affine map ``m``, padded and clipped to the defect band."""
    x1, y1, x2, y2 = b
    pts = np.array([[x1, y1, 1], [x2, y1, 1], [x1, y2, 1], [x2, y2, 1]], np.float32) @ m.T
    lo, hi = pts.min(0), pts.max(0)
    return (int(np.clip(np.floor(lo[0]) - pad, BAND[0], BAND[2])),
            int(np.clip(np.floor(lo[1]) - pad, BAND[1], BAND[3])),
            int(np.clip(np.ceil(hi[0]) + pad, BAND[0], BAND[2])),
            int(np.clip(np.ceil(hi[1]) + pad, BAND[1], BAND[3])))
