"""Throughput probe: training steps/s of CIFAR-family models on the GPU (sizing the fmnist profile)."""
import json
import os
import time

import torch

from msr import create_model

DEV = "cuda"
CASES = [(8, "ms", 128), (20, "ms", 128), (56, "ms", 128), (56, "vanilla", 128), (56, "ms", 256), (104, "ms", 128)]


def step(m, opt, x, y):
    with torch.autocast("cuda", dtype=torch.bfloat16):
        loss = torch.nn.functional.cross_entropy(m(x), y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


def main():
    torch.backends.cudnn.benchmark = True
    out = {"device": torch.cuda.get_device_name(), "torch": torch.__version__, "rows": []}
    for depth, block, bs in CASES:
        m = create_model("cifar_resnet", depth=depth, block=block, in_channels=1, T=6)
        m = m.to(DEV).to(memory_format=torch.channels_last)
        opt = torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
        x = torch.randn(bs, 1, 32, 32, device=DEV)
        y = torch.randint(0, 10, (bs,), device=DEV)
        for _ in range(3):
            step(m, opt, x, y)
        torch.cuda.synchronize()
        t, n = time.perf_counter(), 15
        for _ in range(n):
            step(m, opt, x, y)
        torch.cuda.synchronize()
        dt = (time.perf_counter() - t) / n
        row = dict(depth=depth, block=block, batch=bs, step_ms=dt * 1e3, img_s=bs / dt, epoch_60k_s=60000 / (bs / dt))
        out["rows"].append(row)
        print(row, flush=True)
    with open(os.path.join(os.environ.get("OUT", "."), "probe.json"), "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
