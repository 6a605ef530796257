"""Throughput probe: training steps/s of CIFAR-family models on the GPU (sizing the fmnist profile)."""
import json, os, sys, time
import torch
from msr import create_model

dev = "cuda"
torch.backends.cudnn.benchmark = True
out = {"device": torch.cuda.get_device_name(), "torch": torch.__version__, "rows": []}
for depth, block, bs in [(8, "ms", 128), (20, "ms", 128), (56, "ms", 128), (56, "vanilla", 128), (56, "ms", 256), (104, "ms", 128)]:
    m = create_model("cifar_resnet", depth=depth, block=block, in_channels=1, T=6).to(dev).to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
    x = torch.randn(bs, 1, 32, 32, device=dev); y = torch.randint(0, 10, (bs,), device=dev)
    def step():
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = torch.nn.functional.cross_entropy(m(x), y)
        opt.zero_grad(set_to_none=True); loss.backward(); opt.step()
    for _ in range(3): step()
    torch.cuda.synchronize(); t = time.perf_counter(); n = 15
    for _ in range(n): step()
    torch.cuda.synchronize(); dt = (time.perf_counter() - t) / n
    row = dict(depth=depth, block=block, batch=bs, step_ms=dt * 1e3, img_s=bs / dt, epoch_60k_s=60000 / (bs / dt))
    out["rows"].append(row); print(row, flush=True)
json.dump(out, open(os.path.join(os.environ.get("OUT", "."), "probe.json"), "w"), indent=1)
