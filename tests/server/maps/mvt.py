"""A minimal Mapbox Vector Tile decoder for tests (protobuf by hand: layers, features, points)."""
from __future__ import annotations

import math
import struct


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i
        shift += 7


def _fields(buf: bytes):
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        num, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(buf, i)
        elif wire == 2:
            n, i = _varint(buf, i)
            value, i = buf[i:i + n], i + n
        elif wire == 5:
            value, i = buf[i:i + 4], i + 4
        elif wire == 1:
            value, i = buf[i:i + 8], i + 8
        else:
            raise ValueError(f"unsupported wire type {wire}")
        yield num, wire, value


def _packed(buf: bytes) -> list[int]:
    out, i = [], 0
    while i < len(buf):
        v, i = _varint(buf, i)
        out.append(v)
    return out


def _value(buf: bytes):
    for num, _wire, v in _fields(buf):
        if num == 1:
            return v.decode()
        if num == 2:
            return struct.unpack("<f", v)[0]
        if num == 3:
            return struct.unpack("<d", v)[0]
        if num in (4, 5):
            return v
        if num == 6:
            return (v >> 1) ^ -(v & 1)
        if num == 7:
            return bool(v)
    return None


def _zigzag(n: int) -> int:
    return (n >> 1) ^ -(n & 1)


def decode(data: bytes) -> dict[str, list[dict]]:
    """{layer name: [{"id", "properties", "points": [(x, y) tile coordinates], "extent"}]}."""
    layers: dict[str, list[dict]] = {}
    for num, _w, layer_buf in _fields(data):
        if num != 3:
            continue
        name, keys, values, raw_features, extent = "", [], [], [], 4096
        for lnum, _lw, v in _fields(layer_buf):
            if lnum == 1:
                name = v.decode()
            elif lnum == 2:
                raw_features.append(v)
            elif lnum == 3:
                keys.append(v.decode())
            elif lnum == 4:
                values.append(_value(v))
            elif lnum == 5:
                extent = v
        features = []
        for fb in raw_features:
            fid, tags, geom = None, [], []
            for fnum, _fw, v in _fields(fb):
                if fnum == 1:
                    fid = v
                elif fnum == 2:
                    tags = _packed(v)
                elif fnum == 4:
                    geom = _packed(v)
            props = {keys[tags[k]]: values[tags[k + 1]] for k in range(0, len(tags), 2)}
            points, x, y, i = [], 0, 0, 0
            while i < len(geom):
                cmd, count = geom[i] & 7, geom[i] >> 3
                i += 1
                if cmd in (1, 2):
                    for _ in range(count):
                        x += _zigzag(geom[i])
                        y += _zigzag(geom[i + 1])
                        i += 2
                        points.append((x, y))
            features.append({"id": fid, "properties": props, "points": points, "extent": extent})
        layers[name] = features
    return layers


def tile_to_lnglat(z: int, tx: int, ty: int, px: float, py: float, extent: int = 4096) -> tuple[float, float]:
    """A point in tile coordinates back to (lng, lat)."""
    n = 1 << z
    fx, fy = (tx + px / extent) / n, (ty + py / extent) / n
    lng = fx * 360.0 - 180.0
    lat = math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * fy))))
    return lng, lat
