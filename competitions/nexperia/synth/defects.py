"""Painters for the local defect types: each draws one defect onto a scene and returns its box.

``s`` is the severity in (0, 1]: it scales size and often contrast, so small values give the tiny,
hard defects. Device flip and empty pocket change the whole scene and are drawn in ``render``.
"""
from __future__ import annotations

from typing import Callable

import cv2
import numpy as np

from competitions.nexperia.synth.scene import BAND, Box, Layout, grain, union_boxes

from common.errors import BadInput

Painter = Callable[[np.ndarray, Layout, np.random.Generator, float], Box]


def _blend(img: np.ndarray, mask: np.ndarray, value: float, alpha: float = 1.0,
           texture: float = 3.0, rng: np.random.Generator | None = None) -> Box:
    """Blend ``value`` (plus a little grain) into ``img`` where the uint8 ``mask`` is set; its box."""
    x, y, w, h = cv2.boundingRect(mask)
    if w == 0:
        raise BadInput("defect mask is empty")
    sl = (slice(y, y + h), slice(x, x + w))
    m = mask[sl].astype(np.float32) * (alpha / 255)
    v = value + (grain(rng, (h, w), texture) if rng is not None else 0)
    img[sl] += m * (v - img[sl])
    return x, y, x + w, y + h


def _local_mean(img: np.ndarray, x: float, y: float, r: int = 3) -> float:
    xi, yi = int(x), int(y)
    return float(img[max(yi - r, 0):yi + r + 1, max(xi - r, 0):xi + r + 1].mean())


def _contrasting(local: float, rng: np.random.Generator, lo: float, hi: float) -> float:
    """A grey level ``lo``-``hi`` away from ``local``, brighter or darker, within 5-250."""
    delta = rng.uniform(lo, hi)
    can_up, can_down = local + delta <= 250, local - delta >= 5
    if can_up and (not can_down or rng.random() < 0.5):
        return local + delta
    return local - delta if can_down else (250.0 if local < 128 else 5.0)


def _empty_mask(img: np.ndarray) -> np.ndarray:
    return np.zeros(img.shape, np.uint8)


def _band_point(rng: np.random.Generator, margin: float = 6) -> tuple[float, float]:
    return rng.uniform(BAND[0] + margin, BAND[2] - margin), rng.uniform(BAND[1] + margin, BAND[3] - margin)


def chipping(img: np.ndarray, lay: Layout, rng: np.random.Generator, s: float) -> Box:
    """A piece broken off the body's edge or corner, showing the pocket floor or rough mould."""
    bx1, by1, bx2, by2 = lay.body
    r = 12 + s * 30
    mask = _empty_mask(img)
    if rng.random() < 0.4:
        cx, sx = (bx1, 1) if rng.random() < 0.5 else (bx2 - 1, -1)
        cy, sy = (by1, 1) if rng.random() < 0.5 else (by2 - 1, -1)
        a, b = r * rng.uniform(0.6, 1.4), r * rng.uniform(0.6, 1.4)
        t = rng.uniform(0.3, 0.6)
        pts = [(cx - sx, cy - sy), (cx + sx * a, cy - sy), (cx + sx * a * t, cy + sy * b * t), (cx - sx, cy + sy * b)]
    else:
        depth, half = r * rng.uniform(0.35, 0.8), r / 2
        if rng.random() < 0.75:  # top or bottom edge: leads sit on the sides
            t, ey, sy = rng.uniform(bx1 + half, bx2 - half), *((by1, 1) if rng.random() < 0.5 else (by2 - 1, -1))
            pts = [(t - half, ey - sy), (t + half, ey - sy), (t + half * rng.uniform(0.1, 0.4), ey + sy * depth),
                   (t - half * rng.uniform(0.1, 0.4), ey + sy * depth * rng.uniform(0.6, 1))]
        else:
            t, ex, sx = rng.uniform(by1 + half, by2 - half), *((bx1, 1) if rng.random() < 0.5 else (bx2 - 1, -1))
            pts = [(ex - sx, t - half), (ex - sx, t + half), (ex + sx * depth, t + half * rng.uniform(0.1, 0.4)),
                   (ex + sx * depth * rng.uniform(0.6, 1), t - half * rng.uniform(0.1, 0.4))]
    cv2.fillPoly(mask, [np.round(np.array(pts)).astype(np.int32)], 255, cv2.LINE_AA)
    value = lay.floor_val * rng.uniform(0.8, 1.0) if rng.random() < 0.5 else lay.body_val + rng.uniform(60, 100)
    return _blend(img, mask, value, texture=6, rng=rng)


def foreign_material(img: np.ndarray, lay: Layout, rng: np.random.Generator, s: float) -> Box:
    """A particle (a few overlapping ellipses) or a fibre anywhere in the band."""
    x, y = _band_point(rng)
    value = _contrasting(_local_mean(img, x, y), rng, 80, 130)
    mask = _empty_mask(img)
    if rng.random() < 0.25:
        length = 30 + s * 80
        steps = rng.integers(4, 8)
        angles = rng.uniform(0, 2 * np.pi) + np.cumsum(rng.normal(0, 0.5, steps))
        pts = np.cumsum(np.stack([np.cos(angles), np.sin(angles)], 1) * (length / steps), 0) + (x, y)
        pts = np.clip(pts, (BAND[0] + 1, BAND[1] + 1), (BAND[2] - 1, BAND[3] - 1))
        cv2.polylines(mask, [np.round(pts).astype(np.int32)], False, 255, 2, cv2.LINE_AA)
    else:
        r = 6 + s * 20
        for _ in range(rng.integers(1, 5)):
            c = (int(x + rng.uniform(-0.6, 0.6) * r), int(y + rng.uniform(-0.6, 0.6) * r))
            axes = (max(1, int(r * rng.uniform(0.4, 1))), max(1, int(r * rng.uniform(0.4, 1))))
            cv2.ellipse(mask, c, axes, rng.uniform(0, 180), 0, 360, 255, -1, cv2.LINE_AA)
    return _blend(img, mask, value, alpha=rng.uniform(0.85, 1.0), texture=5, rng=rng)


def _visible_lead(lay: Layout, i: int) -> Box:
    x1, y1, x2, y2 = lay.leads[i]
    return (x1, y1, lay.body[0], y2) if lay.lead_sides[i] < 0 else (lay.body[2], y1, x2, y2)


def lead_defect(img: np.ndarray, lay: Layout, rng: np.random.Generator, s: float) -> Box:
    """One lead missing, bent, cut short or deformed (darker and narrower)."""
    i = int(rng.integers(len(lay.leads)))
    side = lay.lead_sides[i]
    x1, y1, x2, y2 = vis = _visible_lead(lay, i)
    img[y1:y2 + 1, x1:x2] = lay.floor_val + grain(rng, (y2 + 1 - y1, x2 - x1), 4)
    mode = rng.choice(["missing", "bent", "short", "deformed"], p=[0.25, 0.35, 0.2, 0.2])
    mask = _empty_mask(img)
    value = lay.lead_val
    if mode == "missing":
        return vis
    if mode == "bent":
        root = (x2 if side < 0 else x1, (y1 + y2) / 2)
        m = cv2.getRotationMatrix2D(root, float(rng.choice([-1, 1]) * (18 + s * 30)), 1.0)
        corners = np.array([[x1, y1, 1], [x2, y1, 1], [x2, y2, 1], [x1, y2, 1]], np.float32) @ m.T
        cv2.fillPoly(mask, [np.round(corners).astype(np.int32)], 255, cv2.LINE_AA)
    elif mode == "short":
        cut = int((x2 - x1) * (0.4 + 0.4 * s))
        cv2.rectangle(mask, (x1 + cut if side < 0 else x1, y1), ((x2 if side < 0 else x2 - cut) - 1, y2 - 1), 255, -1)
    else:
        shrink = int((y2 - y1) * (0.15 + 0.25 * s))
        cv2.rectangle(mask, (x1, y1 + shrink), (x2 - 1, y2 - 1 - shrink), 255, -1)
        value = lay.lead_val - (70 + 60 * s)
    return union_boxes([vis, _blend(img, mask, value, texture=4, rng=rng)])


def lead_glue(img: np.ndarray, lay: Layout, rng: np.random.Generator, s: float) -> Box:
    """A glue smear on a lead, at its root, or bridging two neighbouring leads."""
    i = int(rng.integers(len(lay.leads)))
    x1, y1, x2, y2 = _visible_lead(lay, i)
    side = lay.lead_sides[i]
    r = 8 + s * 14
    neighbour = i + 1 if i + 1 < len(lay.leads) and lay.lead_sides[i + 1] == side else None
    if neighbour is not None and rng.random() < 0.4:
        ny1 = lay.leads[neighbour][1]
        c = (rng.uniform(x1 + 2, x2 - 2), (y2 + ny1) / 2)
        axes = (max(2, int(r * rng.uniform(0.5, 1))), int((ny1 - y2) / 2 + rng.uniform(2, 5)))
    else:
        c = (rng.uniform(x1, x2), rng.uniform(y1, y2))
        axes = (max(2, int(r * rng.uniform(0.5, 1))), max(2, int(r * rng.uniform(0.5, 1))))
    mask = _empty_mask(img)
    cv2.ellipse(mask, (int(c[0]), int(c[1])), axes, rng.uniform(0, 180), 0, 360, 255, -1, cv2.LINE_AA)
    value = _contrasting(_local_mean(img, *c), rng, 70, 120)
    return _blend(img, mask, value, alpha=rng.uniform(0.8, 1.0), texture=6, rng=rng)


def marking_defect(img: np.ndarray, lay: Layout, rng: np.random.Generator, s: float) -> Box:
    """Characters missing, smeared or faded, or an extra stroke of marking ink."""
    chars = lay.marking_chars
    k = 1 + int(s * 3.99)
    line = range(0, 3) if rng.random() < 0.5 else range(3, len(chars))
    start = int(rng.integers(line.start, max(line.start + 1, line.stop - k + 1)))
    x1, y1, x2, y2 = union_boxes(chars[start:min(start + k, line.stop)])
    mode = rng.choice(["missing", "smeared", "faded", "extra"], p=[0.35, 0.25, 0.2, 0.2])
    region = img[y1:y2, x1:x2]
    if mode == "missing":
        region[:] = lay.body_val + grain(rng, region.shape, 3)
    elif mode == "smeared":
        n = int(5 + s * 14)
        rot = cv2.getRotationMatrix2D((n / 2, n / 2), rng.uniform(-30, 30), 1.0)
        line_k = cv2.warpAffine(_hline(n), rot, (n, n))
        line_k /= max(float(line_k.sum()), 1e-6)
        pad = n
        ya, yb, xa, xb = max(y1 - pad, 0), y2 + pad, max(x1 - pad, 0), x2 + pad
        img[ya:yb, xa:xb] = cv2.filter2D(img[ya:yb, xa:xb], -1, line_k, borderType=cv2.BORDER_REFLECT)
        return xa, ya, xb, yb
    elif mode == "faded":
        region[:] = lay.body_val + (region - lay.body_val) * rng.uniform(0.0, 0.25)
    else:
        mask = _empty_mask(img)
        p0 = np.array([rng.uniform(lay.body[0] + 8, lay.body[2] - 8), rng.uniform(lay.body[1] + 8, lay.body[3] - 8)])
        ang = rng.uniform(0, 2 * np.pi)
        p1 = p0 + (10 + s * 24) * np.array([np.cos(ang), np.sin(ang)])
        cv2.line(mask, tuple(np.round(p0).astype(int)), tuple(np.round(p1).astype(int)), 255, 3, cv2.LINE_AA)
        return _blend(img, mask, lay.marking_val, texture=3, rng=rng)
    return x1, y1, x2, y2


def _hline(n: int) -> np.ndarray:
    k = np.zeros((n, n), np.float32)
    k[n // 2, :] = 1
    return k


def pocket_damage(img: np.ndarray, lay: Layout, rng: np.random.Generator, s: float) -> Box:
    """A crack (dark line with a bright edge) or a dent (shaded ellipse) in the pocket floor."""
    for _ in range(100):
        x, y = _band_point(rng, margin=3)
        if not lay.on_device(x, y, pad=3):
            break
    dark, bright = lay.floor_val - rng.uniform(60, 90), lay.floor_val + rng.uniform(45, 75)
    if rng.random() < 0.6:
        length = 25 + s * 50
        steps = int(rng.integers(3, 7))
        angles = rng.uniform(0, 2 * np.pi) + np.cumsum(rng.normal(0, 0.6, steps))
        pts = np.cumsum(np.stack([np.cos(angles), np.sin(angles)], 1) * (length / steps), 0) + (x, y)
        pts = np.round(np.clip(pts, (BAND[0] + 2, BAND[1] + 2), (BAND[2] - 2, BAND[3] - 2))).astype(np.int32)
        thick = 3
        hi, lo = _empty_mask(img), _empty_mask(img)
        cv2.polylines(hi, [pts + 1], False, 255, thick, cv2.LINE_AA)
        cv2.polylines(lo, [pts], False, 255, thick, cv2.LINE_AA)
        return union_boxes([_blend(img, hi, bright, rng=rng), _blend(img, lo, dark, rng=rng)])
    r = 8 + s * 14
    axes = (max(2, int(r * rng.uniform(0.6, 1))), max(2, int(r * rng.uniform(0.6, 1))))
    ang = rng.uniform(0, 180)
    boxes = []
    for value, (a0, a1) in ((dark, (0, 180)), (bright, (180, 360))):
        mask = _empty_mask(img)
        cv2.ellipse(mask, (int(x), int(y)), axes, ang, a0, a1, 255, -1, cv2.LINE_AA)
        boxes.append(_blend(img, mask, value, alpha=0.8, rng=rng))
    return union_boxes(boxes)


def scratch(img: np.ndarray, lay: Layout, rng: np.random.Generator, s: float) -> Box:
    """A thin, slightly curved line across the body (sometimes across a lead)."""
    if rng.random() < 0.85:
        x1, y1, x2, y2 = lay.body
    else:
        x1, y1, x2, y2 = _visible_lead(lay, int(rng.integers(len(lay.leads))))
    length = 30 + s * 100
    p0 = np.array([rng.uniform(x1 + 2, x2 - 2), rng.uniform(y1 + 2, y2 - 2)])
    ang = rng.uniform(0, 2 * np.pi)
    d = np.array([np.cos(ang), np.sin(ang)])
    p1 = np.clip(p0 + length * d, (x1 + 1, y1 + 1), (x2 - 2, y2 - 2))
    mid = (p0 + p1) / 2 + np.array([-d[1], d[0]]) * rng.uniform(-0.06, 0.06) * length
    mask = _empty_mask(img)
    pts = np.round(np.stack([p0, mid, p1])).astype(np.int32)
    cv2.polylines(mask, [pts], False, 255, 2 + int(s > 0.5), cv2.LINE_AA)
    value = _contrasting(_local_mean(img, *p0), rng, 80, 130)
    return _blend(img, mask, value, alpha=rng.uniform(0.8, 1.0), rng=rng)


PAINTERS: dict[str, Painter] = {
    "chipping": chipping,
    "foreign_material": foreign_material,
    "lead_defect": lead_defect,
    "lead_glue": lead_glue,
    "marking_defect": marking_defect,
    "pocket_damage": pocket_damage,
    "scratch": scratch,
}
