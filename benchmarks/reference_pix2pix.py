"""The yardstick for train_step.py: a plain PyTorch pix2pix step, as the 2017 reference runs it.

unet_256 generator (64 filters, BatchNorm, dropout in the three innermost decoder blocks),
70x70 PatchGAN (64 filters, 3 layers, BatchNorm), vanilla GAN loss (BCE with logits),
L1 weight 100, Adam(2e-4, 0.5), NCHW float32, eager mode: its defaults, on the GPU when
there is one (cuDNN autotuning off, as the reference leaves it). One step is
G forward, D step on (real, detached fake), G step through D, as the reference's
`optimize_parameters`. Written here (not imported) so the same machine, threads and
input sizes are used as for our presets; the network is built from torch.nn alone.

    python benchmarks/reference_pix2pix.py --batches 1 4 --steps 10
"""

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402


def build(in_channels, out_channels):
    import torch
    from torch import nn

    def down(cin, cout, norm=True):
        layers = [nn.LeakyReLU(0.2), nn.Conv2d(cin, cout, 4, 2, 1, bias=False)]
        return layers + [nn.BatchNorm2d(cout)] if norm else layers

    class UNet(nn.Module):
        def __init__(self):
            super().__init__()
            widths = [64, 128, 256, 512, 512, 512, 512, 512]
            self.encoders = nn.ModuleList([nn.Conv2d(in_channels, 64, 4, 2, 1, bias=False)])
            for index, (cin, cout) in enumerate(zip(widths[:-1], widths[1:])):
                self.encoders.append(nn.Sequential(*down(cin, cout, norm=index < len(widths) - 2)))
            self.decoders = nn.ModuleList()
            for index, (cin, cout) in enumerate(zip(widths[::-1], widths[-2::-1])):
                inner = 1 if index == 0 else 2
                layers = [nn.ReLU(), nn.ConvTranspose2d(cin * inner, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout)]
                if 1 <= index <= 3:
                    layers.append(nn.Dropout(0.5))
                self.decoders.append(nn.Sequential(*layers))
            self.head = nn.Sequential(nn.ReLU(), nn.ConvTranspose2d(128, out_channels, 4, 2, 1), nn.Tanh())

        def forward(self, x):
            skips = []
            for encoder in self.encoders:
                x = encoder(x)
                skips.append(x)
            x = skips.pop()
            for decoder in self.decoders:
                x = torch.cat([decoder(x), skips.pop()], dim=1)
            return self.head(x)

    discriminator = nn.Sequential(
        nn.Conv2d(in_channels + out_channels, 64, 4, 2, 1), nn.LeakyReLU(0.2),
        nn.Conv2d(64, 128, 4, 2, 1, bias=False), nn.BatchNorm2d(128), nn.LeakyReLU(0.2),
        nn.Conv2d(128, 256, 4, 2, 1, bias=False), nn.BatchNorm2d(256), nn.LeakyReLU(0.2),
        nn.Conv2d(256, 512, 4, 1, 1, bias=False), nn.BatchNorm2d(512), nn.LeakyReLU(0.2),
        nn.Conv2d(512, 1, 4, 1, 1),
    )
    return UNet(), discriminator


def conv_flops(module, shape, device="cpu"):
    """FLOPs (2 x multiply-adds) of the convolutions in one forward pass of one input."""
    import torch
    from torch import nn

    total = []

    def hook(layer, inputs, output):
        kernel = layer.kernel_size[0] * layer.kernel_size[1]
        if isinstance(layer, nn.ConvTranspose2d):
            total.append(2 * inputs[0].numel() * layer.out_channels * kernel // layer.groups)
        else:
            total.append(2 * output.numel() * layer.in_channels * kernel // layer.groups)

    handles = [m.register_forward_hook(hook) for m in module.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    with torch.no_grad():
        module.eval()(torch.zeros(shape, device=device))
    module.train()
    for handle in handles:
        handle.remove()
    return sum(total)


def worker(batch, steps, size):
    import numpy as np
    import torch
    from torch import nn

    torch.manual_seed(0)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    generator, discriminator = (network.to(device) for network in build(3, 1))
    g_opt = torch.optim.Adam(generator.parameters(), lr=2e-4, betas=(0.5, 0.999))
    d_opt = torch.optim.Adam(discriminator.parameters(), lr=2e-4, betas=(0.5, 0.999))
    bce, l1 = nn.BCEWithLogitsLoss(), nn.L1Loss()
    rng = np.random.default_rng(0)
    condition = torch.from_numpy(np.eye(3, dtype="float32")[rng.integers(0, 3, (batch, size, size))]).permute(0, 3, 1, 2)
    condition = condition.contiguous().to(device)
    target = torch.from_numpy(np.tanh(rng.normal(size=(batch, 1, size, size))).astype("float32")).to(device)

    def step():
        fake = generator(condition)
        d_opt.zero_grad()
        pred_fake = discriminator(torch.cat([condition, fake.detach()], 1))
        pred_real = discriminator(torch.cat([condition, target], 1))
        d_loss = 0.5 * (bce(pred_fake, torch.zeros_like(pred_fake)) + bce(pred_real, torch.ones_like(pred_real)))
        d_loss.backward()
        d_opt.step()
        g_opt.zero_grad()
        pred_fake = discriminator(torch.cat([condition, fake], 1))
        g_loss = bce(pred_fake, torch.ones_like(pred_fake)) + 100.0 * l1(fake, target)
        g_loss.backward()
        g_opt.step()

    def synchronize():
        if device == "cuda":
            torch.cuda.synchronize()

    for _ in range(3):
        step()
    synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    synchronize()
    seconds = time.perf_counter() - start
    flops = 3 * conv_flops(generator, (1, 3, size, size), device) + 9 * conv_flops(discriminator, (1, 4, size, size), device)
    return {"images_per_second": steps * batch / seconds, "peak_rss_mb": _common.peak_rss_mb(),
            "gpu_peak_mb": _common.gpu_peak_mb(), "gflop_per_image": flops / 1e9, "device": device,
            "threads": torch.get_num_threads()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 4])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--no-record", action="store_true", help="do not append to RESULTS.md")
    args, rest = parser.parse_known_args()
    if args.worker:
        print(json.dumps(worker(*map(int, rest))))
        return
    rows = []
    for batch in args.batches:
        rows.append({"implementation": "pytorch pix2pix (reference)", "batch": batch,
                     **_common.run_worker(__file__, [batch, args.steps, args.size])})
        print(json.dumps(rows[-1]), flush=True)
    body = _common.table(rows, ["implementation", "device", "batch", "images_per_second", "peak_rss_mb",
                                "gpu_peak_mb", "gflop_per_image", "threads", "error"])
    _common.publish(f"Reference pix2pix step at {args.size}x{args.size}", body, record=not args.no_record)


if __name__ == "__main__":
    main()
