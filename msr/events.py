"""Event-camera emulation: static images -> ON/OFF event streams by emulated saccades.

N-MNIST and CIFAR10-DVS (Table IV's data) were recorded by moving a static image in
front of a dynamic vision sensor (DVS) and logging, per pixel, every change of log
intensity by a contrast threshold.  :func:`emulate` does the same offline for any
uint8 image data set (Fashion-MNIST here), so Table IV's network, its event-frame
loader (:func:`msr.data.events_to_frames`) and its energy row run on event streams.

The sensor model (parameters in :class:`SaccadeParams`):

* **Placement.**  The image is scaled by ``scale`` (28 px -> 56 px) and placed on a
  ``sensor`` x ``sensor`` pixel array (64 x 64: the paper's DVS input resolution),
  centred with room for the path; outside the image the scene is black.  Resampling is
  bilinear at sub-pixel positions (the numbers of ``grid_sample`` with
  ``align_corners=False``, computed as two small matrix products per image).
* **Saccades.**  Straight moves of equal duration ``move_ms`` through the corners of
  ``path`` (units of ``A = amplitude`` sensor pixels; x right, y down).  The default is
  N-MNIST's isosceles triangle of three moves (Orchard et al., 2015): image offset
  (0, 0) -> (A/2, A) -> (A, 0) -> (0, 0), so with A = 4 px and 100 ms per move the
  speed is 44.7 px/s on the two slanted moves and 40 px/s on the horizontal one, and
  a recording lasts 300 ms.  Each move is sampled at ``steps`` equally spaced positions
  (0.56 and 0.5 px apart with the defaults); between samples the log intensity is
  taken as linear in time, so events get timestamps between the samples (sampling
  four times finer changes the event counts by less than 0.1 %).
* **Pixels.**  Log intensity ``L = log(I + eps)`` with ``I`` in [0, 1] (``eps``: the
  dark level that keeps black finite).  Each pixel keeps a reference level; whenever
  ``L`` has moved by its threshold ``C`` from the reference it emits an event, ON
  (p = 1) if up, OFF (p = 0) if down, and the reference moves by ``C`` toward ``L`` -
  so a large change emits several events, at the times ``L`` crosses each level.
  Thresholds vary from pixel to pixel (``threshold_sigma``, relative; a fixed pattern
  of the sensor drawn from ``seed``), and each recording starts with each reference a
  random fraction of ``C`` (within +-C/2) away from ``L`` (drawn from ``seed`` and
  the sample's id), as a real sensor's pixels are at some point of their cycle when
  the recording starts.  A static scene therefore emits nothing.
* **Output.**  Per sample, arrays ``x, y`` (uint8 pixel column and row), ``t``
  (uint32, microseconds from the start of the first move), ``p`` (uint8, 1 = ON),
  sorted by time: the arrays CIFAR10-DVS's event files hold (``msr.data``).

With the defaults a Fashion-MNIST image gives about 9,500 events (4,700-17,700; half
ON), 67 kB on disk (7 bytes an event), so the 70,000 images take about 4.7 GB.
Conversion costs about 2 ms per image on one CPU core (70,000 images: about 2 min on
two cores).

:class:`EventCache` converts an image set in shards of :data:`SHARD` images, in
parallel threads when many are missing, and keeps them under
``<root>/<parameter key>/<source digest>-s<stream>/`` (the key hashes the parameters
and :data:`VERSION`, the digest the source images), each file written atomically;
later runs and loader workers read them memory-mapped.
"""
from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

#: Images per cache shard (a shard is converted and written as one unit).
SHARD = 500
#: Structured dtype of the stored events (7 bytes per event).
EVENT_DTYPE = np.dtype([("x", "u1"), ("y", "u1"), ("p", "u1"), ("t", "<u4")])
#: Bump when the emulator's output changes for the same parameters (part of the cache key).
VERSION = 1


@dataclass(frozen=True)
class SaccadeParams:
    """Parameters of the emulated sensor and saccades (see the module docstring).

    sensor: pixel array side (64: the paper's 64 x 64 DVS input, Table IV / V).
    scale: image pixels -> sensor pixels (Fashion-MNIST 28 -> 56).
    amplitude: size A of the saccade triangle, sensor pixels.
    path: the corners the image offset visits, in units of A (x right, y down); the
      default is N-MNIST's triangle of three moves.
    move_ms: duration of each move, milliseconds (N-MNIST: about 100).
    steps: intensity samples per move (sub-pixel positions along the path).
    threshold: contrast threshold C, in log-intensity units.
    threshold_sigma: pixel-to-pixel spread of C, relative (0 = every pixel the same).
    eps: dark level added to the intensity (in [0, 1]) before the log.
    seed: the sensor's threshold pattern and the initial reference levels.
    """

    sensor: int = 64
    scale: float = 2.0
    amplitude: float = 4.0
    path: tuple[tuple[float, float], ...] = ((0.0, 0.0), (0.5, 1.0), (1.0, 0.0), (0.0, 0.0))
    move_ms: float = 100.0
    steps: int = 8
    threshold: float = 0.3
    threshold_sigma: float = 0.03
    eps: float = 0.1
    seed: int = 0

    def __post_init__(self):
        try:
            path = tuple((float(x), float(y)) for x, y in self.path)
        except (TypeError, ValueError):
            path = ()
        if len(path) < 2:
            raise ValueError(f"SaccadeParams.path must be two or more (x, y) corners, got {self.path!r}")
        object.__setattr__(self, "path", path)
        checks = (("sensor", 2 <= self.sensor <= 256, "an integer in [2, 256]"),
                  ("scale", self.scale > 0, "> 0"), ("amplitude", self.amplitude >= 0, ">= 0"),
                  ("move_ms", self.move_ms > 0, "> 0"), ("steps", self.steps >= 1, "an integer >= 1"),
                  ("threshold", self.threshold > 0, "> 0"),
                  ("threshold_sigma", 0 <= self.threshold_sigma < 0.5, "in [0, 0.5)"),
                  ("eps", self.eps > 0, "> 0"))
        for name, ok, valid in checks:
            if not ok:
                raise ValueError(f"SaccadeParams.{name} must be {valid}, got {getattr(self, name)!r}")

    def as_dict(self) -> dict:
        return asdict(self)

    def key(self) -> str:
        """Hash of the parameters and the emulator version (16 hex characters)."""
        text = json.dumps({"version": VERSION, **self.as_dict()}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def saccade_path(params: SaccadeParams) -> tuple[np.ndarray, np.ndarray]:
    """Image offsets ``[M * steps + 1, 2]`` (x, y; sensor pixels) along the M straight
    moves of ``params.path`` and their times ``[M * steps + 1]`` in microseconds."""
    corners = np.asarray(params.path) * params.amplitude
    moves = len(corners) - 1
    frac = np.arange(params.steps) / params.steps
    pts = [corners[m] + frac[:, None] * (corners[m + 1] - corners[m]) for m in range(moves)]
    offsets = np.concatenate(pts + [corners[-1:]])
    times = np.arange(moves * params.steps + 1) * (params.move_ms * 1000.0 / params.steps)
    return offsets, times


def _placement(params: SaccadeParams, height: int, width: int) -> tuple[float, float]:
    """Top-left corner (x, y) of the scaled image at offset (0, 0): image and path centred."""
    corners = np.asarray(params.path) * params.amplitude
    lo, hi = corners.min(0), corners.max(0)
    room = params.sensor - np.array([width, height]) * params.scale - (hi - lo)
    if (room < 0).any():
        raise ValueError(f"a {height}x{width} image scaled by {params.scale} plus the saccade path "
                         f"({hi[0] - lo[0]:g} x {hi[1] - lo[1]:g} px) does not fit a {params.sensor}-pixel sensor; "
                         f"lower scale or amplitude")
    x0, y0 = room / 2 - lo
    return float(x0), float(y0)


def thresholds(params: SaccadeParams) -> np.ndarray:
    """The sensor's per-pixel contrast thresholds ``[sensor, sensor]`` (float32, seeded)."""
    rng = np.random.default_rng([params.seed, 0x5EED])
    c = params.threshold * (1.0 + params.threshold_sigma * rng.standard_normal((params.sensor, params.sensor)))
    return np.maximum(c, 0.25 * params.threshold).astype(np.float32)


def _axis_weights(n_sensor: int, n_image: int, origin: float, scale: float) -> np.ndarray:
    """Bilinear resampling along one axis as a matrix ``[n_sensor, n_image]``: sensor pixel
    centre ``u + 0.5`` sees image coordinate ``(u + 0.5 - origin) / scale - 0.5`` (pixel
    centres at integers, zero outside the image: ``grid_sample``'s ``align_corners=False``,
    ``padding_mode="zeros"``)."""
    pos = (np.arange(n_sensor) + 0.5 - origin) / scale - 0.5
    lo = np.floor(pos).astype(np.int64)
    w_hi = pos - lo
    out = np.zeros((n_sensor, n_image))
    for col, w in ((lo, 1.0 - w_hi), (lo + 1, w_hi)):
        ok = (col >= 0) & (col < n_image)
        out[np.flatnonzero(ok), col[ok]] = w[ok]
    return out


def _log_frames(images: torch.Tensor, params: SaccadeParams, offsets: np.ndarray):
    """Yield ``L_k = log(I_k + eps)`` ``[N, S * S]`` (numpy float32) at each path offset.

    Bilinear resampling is separable, so each frame is ``Wy_k @ image @ Wx_k^T``
    (two small matrix products per image, the same numbers as ``grid_sample``)."""
    n, h, w = images.shape
    x0, y0 = _placement(params, h, w)
    s = params.sensor
    cols = images.permute(1, 0, 2).reshape(h, n * w)  # [H, N * W]: one GEMM per axis for all images
    for dx, dy in offsets:
        wy = torch.from_numpy(_axis_weights(s, h, y0 + dy, params.scale)).float()
        wx = torch.from_numpy(_axis_weights(s, w, x0 + dx, params.scale)).float()
        rows = (wy @ cols).reshape(s, n, w).transpose(0, 1).reshape(n * s, w)  # [N * S, W]
        frame = (rows @ wx.T).reshape(n, s * s)
        yield torch.log(frame.clamp_(min=0.0).add_(params.eps)).numpy()


@dataclass
class Events:
    """Event streams of N samples, concatenated: sample ``i`` is ``[offsets[i], offsets[i + 1])``."""

    x: np.ndarray
    y: np.ndarray
    t: np.ndarray
    p: np.ndarray
    offsets: np.ndarray

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def sample(self, i: int) -> dict[str, np.ndarray]:
        a, b = int(self.offsets[i]), int(self.offsets[i + 1])
        return {"x": self.x[a:b], "y": self.y[a:b], "t": self.t[a:b], "p": self.p[a:b]}

    def counts(self) -> np.ndarray:
        return np.diff(self.offsets)


def emulate(images, params: SaccadeParams = SaccadeParams(), ids=None, stream: int = 0) -> Events:
    """Emulated DVS recordings of ``images`` (``[N, H, W]`` uint8, or float in [0, 1]).

    ``ids`` (default ``0..N-1``) and ``stream`` (e.g. 0 = train, 1 = test) name each
    sample for its random initial reference levels, so a sample's events do not depend
    on which other images are converted with it.  Vectorised over images and pixels
    (torch for the resampling, numpy for the events); the only loop runs over the
    ``moves * steps`` path samples.
    """
    arr = images.numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
    if arr.ndim == 4 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 3:
        raise ValueError(f"images must be [N, H, W] (or [N, 1, H, W]), got shape {arr.shape}")
    img = torch.from_numpy(arr.astype(np.float32) / (255.0 if arr.dtype == np.uint8 else 1.0))
    n, s = arr.shape[0], params.sensor
    ids = np.arange(n) if ids is None else np.asarray(ids, dtype=np.int64)
    if ids.shape != (n,):
        raise ValueError(f"ids must have one entry per image ({n}), got shape {ids.shape}")
    offsets, times = saccade_path(params)
    c = thresholds(params).reshape(-1)  # [S * S], broadcast over images
    u = np.stack([np.random.default_rng([params.seed, stream, int(i)]).random(s * s, dtype=np.float32)
                  for i in ids]) if n else np.zeros((0, s * s), np.float32)
    frames = _log_frames(img, params, offsets)
    prev = next(frames)
    ref = prev + (u - 0.5) * c  # [N, S * S]
    pix_parts, t_parts, p_parts = [], [], []
    for k, cur in enumerate(frames):
        delta = cur - ref
        idx = np.flatnonzero(np.abs(delta) >= c)
        if idx.size:
            d, cpix = delta.reshape(-1)[idx], c[idx % (s * s)]
            cnt = (np.abs(d) / cpix).astype(np.int64)  # >= 1 (truncation = floor here)
            step = np.copysign(cpix, d)  # signed threshold of each firing pixel
            a, b = prev.reshape(-1)[idx], cur.reshape(-1)[idx]
            r = ref.reshape(-1)[idx]
            ref.reshape(-1)[idx] = r + cnt * step
            # the j-th crossing (j = 1..cnt) is at level r + j * step, linear in time between samples
            inv = np.divide(1.0, b - a, out=np.zeros_like(b), where=b != a)
            f0, df = (r - a) * inv, step * inv
            if cnt.max() > 1:
                rep = np.repeat(np.arange(idx.size), cnt)
                j = np.arange(rep.size) - np.repeat(np.cumsum(cnt) - cnt, cnt) + 1
                frac, idx, on = f0[rep] + j * df[rep], idx[rep], d[rep] > 0
            else:
                frac, on = f0 + df, d > 0
            dt = times[k + 1] - times[k]
            t_rel = np.rint(np.clip(frac, 0.0, 1.0) * dt).astype(np.uint16 if dt < 1 << 16 else np.uint32)
            o = np.argsort(t_rel, kind="stable")  # by time within the step (a radix sort for uint16)
            pix_parts.append(idx[o])
            t_parts.append(t_rel[o].astype(np.uint32) + np.uint32(round(times[k])))
            p_parts.append(on[o])
        prev = cur
    pix = np.concatenate(pix_parts) if pix_parts else np.zeros(0, np.int64)
    t = np.concatenate(t_parts) if t_parts else np.zeros(0, np.uint32)
    p = np.concatenate(p_parts).astype(np.uint8) if p_parts else np.zeros(0, np.uint8)
    smp = pix // (s * s)
    order = np.argsort(smp.astype(np.uint16) if n <= 1 << 16 else smp, kind="stable")  # steps stay in order
    pix, t, p, smp = pix[order], t[order], p[order], smp[order]
    counts = np.bincount(smp, minlength=n)
    return Events((pix % s).astype(np.uint8), ((pix // s) % s).astype(np.uint8), t, p,
                  np.concatenate([[0], np.cumsum(counts)]).astype(np.int64))


# ----------------------------------------------------------------------------- cache
def source_digest(images: np.ndarray) -> str:
    """sha256 of the images' shape, dtype and bytes (16 hex characters)."""
    h = hashlib.sha256(f"{images.shape}{images.dtype}".encode())
    h.update(np.ascontiguousarray(images).tobytes())
    return h.hexdigest()[:16]


def _to_records(ev: Events) -> np.ndarray:
    out = np.empty(len(ev.x), dtype=EVENT_DTYPE)
    out["x"], out["y"], out["p"], out["t"] = ev.x, ev.y, ev.p, ev.t
    return out


def _convert_shard(images: np.ndarray, params: SaccadeParams, ids: np.ndarray, stream: int,
                   events_path: str, offsets_path: str) -> int:
    """Emulate one shard and write it: events first, then offsets (whose presence marks the
    shard complete), each atomically.  Returns the number of events."""
    from msr.results import atomic_write_bytes

    ev = emulate(images, params, ids=ids, stream=stream)
    rec = _to_records(ev)
    atomic_write_bytes(Path(events_path), lambda f: np.save(f, rec))
    atomic_write_bytes(Path(offsets_path), lambda f: np.save(f, ev.offsets))
    return len(rec)


class EventCache:
    """Emulated events of one image set (``[N, H, W]`` uint8), in shards on disk.

    ``stream`` tells splits apart (0 = train, 1 = test: different initial reference
    levels for the same index).  :meth:`ensure` converts the shards that a set of
    indices needs (several threads when many are missing); :meth:`events` reads one
    sample's ``x, y, t, p`` (converting its shard first if it is missing).
    """

    def __init__(self, root: str | Path, images, params: SaccadeParams = SaccadeParams(), stream: int = 0,
                 shard: int = SHARD):
        arr = images.numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
        if arr.ndim == 4 and arr.shape[1] == 1:
            arr = arr[:, 0]
        if arr.ndim != 3 or arr.dtype != np.uint8:
            raise ValueError(f"EventCache takes uint8 images [N, H, W], got {arr.dtype} {arr.shape}")
        if shard < 1:
            raise ValueError(f"shard must be >= 1, got {shard}")
        self.images, self.params, self.stream, self.shard = arr, params, stream, shard
        self.dir = Path(root) / params.key() / f"{source_digest(arr)}-s{stream}"
        self._loaded: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def __len__(self) -> int:
        return len(self.images)

    @property
    def n_shards(self) -> int:
        return -(-len(self.images) // self.shard)

    def paths(self, k: int) -> tuple[Path, Path]:
        stem = self.dir / f"shard{self.shard}_{k:05d}"
        return stem.with_suffix(".events.npy"), stem.with_suffix(".offsets.npy")

    def missing(self, indices=None) -> list[int]:
        """Shards (of those ``indices`` need; all by default) not on disk yet."""
        shards = range(self.n_shards) if indices is None else sorted({int(i) // self.shard for i in indices})
        return [k for k in shards if not self.paths(k)[1].exists()]

    def _job(self, k: int) -> tuple:
        lo, hi = k * self.shard, min((k + 1) * self.shard, len(self.images))
        ev, off = self.paths(k)
        return self.images[lo:hi], self.params, np.arange(lo, hi), self.stream, str(ev), str(off)

    def _write_description(self) -> None:
        from msr.results import atomic_write_json

        path = self.dir / "params.json"
        if not path.exists():
            atomic_write_json(path, {"emulator": "msr.events", "version": VERSION, "params": self.params.as_dict(),
                                     "images": list(self.images.shape), "stream": self.stream,
                                     "shard": self.shard})

    def ensure(self, indices=None, workers: int | None = None, log=print) -> int:
        """Convert the missing shards ``indices`` need; returns how many were converted.
        ``workers``: threads, by default one per CPU core when more than two shards are missing."""
        todo = self.missing(indices)
        if not todo:
            return 0
        self._write_description()
        if workers is None:
            workers = min(len(todo), os.cpu_count() or 1) if len(todo) > 2 else 1
        if log:
            log(f"emulating events: {len(todo)} shard(s) of {self.shard} images -> {self.dir} "
                f"({workers} thread{'s' if workers > 1 else ''})")
        if workers <= 1:
            for k in todo:
                _convert_shard(*self._job(k))
            return len(todo)
        # threads: numpy and torch release the GIL in the array work, and threads need no
        # __main__ guard in the caller's script (as spawned processes would)
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(lambda k: _convert_shard(*self._job(k)), todo))
        return len(todo)

    def _shard(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        if k not in self._loaded:
            ev, off = self.paths(k)
            if not off.exists():
                self.ensure(range(k * self.shard, k * self.shard + 1), workers=1, log=None)
            self._loaded[k] = (np.load(ev, mmap_mode="r"), np.load(off))
        return self._loaded[k]

    def events(self, i: int) -> dict[str, np.ndarray]:
        """Sample ``i``'s events: ``x, y, t, p`` arrays (views of the memory-mapped shard)."""
        if not 0 <= i < len(self.images):
            raise IndexError(f"sample {i} out of range for {len(self.images)} images")
        k, j = divmod(i, self.shard)
        rec, off = self._shard(k)
        part = rec[int(off[j]):int(off[j + 1])]
        return {name: part[name] for name in ("x", "y", "t", "p")}

    def __getstate__(self):  # loader workers reopen the memory maps themselves
        return {**self.__dict__, "_loaded": {}}
