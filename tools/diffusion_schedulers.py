#!/usr/bin/env -S /usr/bin/python3
"""A small PyTorch transcription of diffusers' noise schedules and samplers (the reference for
src/Ascan.Models/Generation/Schedulers, see tests/fixtures/schedulers/README.md).

Follows diffusers 0.40.0.dev0 (github:huggingface/diffusers @ 58eb52c0), files
src/diffusers/schedulers/scheduling_ddpm.py, scheduling_ddim.py, scheduling_dpmsolver_multistep.py,
scheduling_flow_match_euler_discrete.py and src/diffusers/training_utils.py (compute_snr,
compute_density_for_timestep_sampling) plus examples/text_to_image/train_text_to_image.py (min-SNR-γ weights).
Only the options Ascan implements are transcribed (no thresholding, karras/exponential/beta sigmas, SDE variants,
learned variances, dynamic shifting). Same dtypes as diffusers: torch float32 betas / alphas_cumprod, numpy float64
for the set_timesteps arithmetic, float32 sample state.

    /usr/bin/python3 tools/diffusion_schedulers.py --sampler dpmpp --steps 10   # print timesteps and sigmas
"""
from __future__ import annotations

import argparse
import json
import math

import numpy as np
import torch


# ---------------------------------------------------------------- beta schedules (all four schedulers share them)

def betas_for_alpha_bar(n: int, max_beta: float = 0.999) -> torch.Tensor:
    """diffusers betas_for_alpha_bar, alpha_transform_type="cosine" (the squaredcos_cap_v2 schedule)."""
    def alpha_bar(t):
        return math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2
    return torch.tensor([min(1 - alpha_bar((i + 1) / n) / alpha_bar(i / n), max_beta) for i in range(n)],
                        dtype=torch.float32)


def make_betas(beta_schedule="linear", num_train_timesteps=1000, beta_start=0.0001, beta_end=0.02) -> torch.Tensor:
    if beta_schedule == "linear":
        return torch.linspace(beta_start, beta_end, num_train_timesteps, dtype=torch.float32)
    if beta_schedule == "scaled_linear":
        return torch.linspace(beta_start ** 0.5, beta_end ** 0.5, num_train_timesteps, dtype=torch.float32) ** 2
    if beta_schedule == "squaredcos_cap_v2":
        return betas_for_alpha_bar(num_train_timesteps)
    raise ValueError(beta_schedule)


def alphas_cumprod_of(betas: torch.Tensor) -> torch.Tensor:
    return torch.cumprod(1.0 - betas, dim=0)


def spaced_timesteps(spacing: str, n_train: int, steps: int, steps_offset: int) -> np.ndarray:
    """DDPM/DDIM set_timesteps."""
    if spacing == "linspace":
        return np.linspace(0, n_train - 1, steps).round()[::-1].copy().astype(np.int64)
    if spacing == "leading":
        ratio = n_train // steps
        return (np.arange(0, steps) * ratio).round()[::-1].copy().astype(np.int64) + steps_offset
    if spacing == "trailing":
        ratio = n_train / steps
        return np.round(np.arange(n_train, 0, -ratio)).astype(np.int64) - 1
    raise ValueError(spacing)


def _x0_eps(pred, model_output, sample, a, b):
    """(x0, eps) from a model output, a = alpha_prod_t, b = 1 - a (float32 0-d tensors)."""
    if pred == "epsilon":
        return (sample - b ** 0.5 * model_output) / a ** 0.5, model_output
    if pred == "sample":
        return model_output, (sample - a ** 0.5 * model_output) / b ** 0.5
    if pred == "v_prediction":
        return a ** 0.5 * sample - b ** 0.5 * model_output, a ** 0.5 * model_output + b ** 0.5 * sample
    raise ValueError(pred)


# ---------------------------------------------------------------- DDPM

class DDPM:
    def __init__(self, num_train_timesteps=1000, beta_start=0.0001, beta_end=0.02, beta_schedule="linear",
                 variance_type="fixed_small", clip_sample=True, prediction_type="epsilon", clip_sample_range=1.0,
                 timestep_spacing="leading", steps_offset=0):
        self.cfg = dict(locals()); del self.cfg["self"]
        self.alphas_cumprod = alphas_cumprod_of(make_betas(beta_schedule, num_train_timesteps, beta_start, beta_end))
        self.one = torch.tensor(1.0)
        self.sigmas = None

    def set_timesteps(self, steps):
        c = self.cfg
        self.timesteps = torch.from_numpy(spaced_timesteps(c["timestep_spacing"], c["num_train_timesteps"], steps, c["steps_offset"]))

    def prev_t(self, t):
        idx = (self.timesteps == t).nonzero(as_tuple=True)[0][0]
        return -1 if idx == len(self.timesteps) - 1 else int(self.timesteps[idx + 1])

    def needs_noise(self, t):
        return t > 0

    def step(self, model_output, t, sample, noise):
        c = self.cfg
        prev_t = self.prev_t(t)
        a_t = self.alphas_cumprod[t]
        a_prev = self.alphas_cumprod[prev_t] if prev_t >= 0 else self.one
        b_t, b_prev = 1 - a_t, 1 - a_prev
        cur_alpha = a_t / a_prev
        cur_beta = 1 - cur_alpha
        x0, _ = _x0_eps(c["prediction_type"], model_output, sample, a_t, b_t)
        if c["clip_sample"]:
            x0 = x0.clamp(-c["clip_sample_range"], c["clip_sample_range"])
        prev = (a_prev ** 0.5 * cur_beta / b_t) * x0 + (cur_alpha ** 0.5 * b_prev / b_t) * sample
        if t > 0:
            var = torch.clamp((1 - a_prev) / (1 - a_t) * cur_beta, min=1e-20)
            if c["variance_type"] == "fixed_small":
                prev = prev + var ** 0.5 * noise
            elif c["variance_type"] == "fixed_small_log":
                prev = prev + torch.exp(0.5 * torch.log(var)) * noise
            elif c["variance_type"] == "fixed_large":
                prev = prev + cur_beta ** 0.5 * noise
            else:
                raise ValueError(c["variance_type"])
        return prev


# ---------------------------------------------------------------- DDIM

class DDIM:
    def __init__(self, num_train_timesteps=1000, beta_start=0.0001, beta_end=0.02, beta_schedule="linear",
                 clip_sample=True, set_alpha_to_one=True, steps_offset=0, prediction_type="epsilon",
                 clip_sample_range=1.0, timestep_spacing="leading", eta=0.0):
        self.cfg = dict(locals()); del self.cfg["self"]
        self.alphas_cumprod = alphas_cumprod_of(make_betas(beta_schedule, num_train_timesteps, beta_start, beta_end))
        self.final_alpha_cumprod = torch.tensor(1.0) if set_alpha_to_one else self.alphas_cumprod[0]
        self.sigmas = None

    def set_timesteps(self, steps):
        c = self.cfg
        self.steps = steps
        self.timesteps = torch.from_numpy(spaced_timesteps(c["timestep_spacing"], c["num_train_timesteps"], steps, c["steps_offset"]))

    def needs_noise(self, t):
        return self.cfg["eta"] > 0

    def step(self, model_output, t, sample, noise):
        c = self.cfg
        prev_t = t - c["num_train_timesteps"] // self.steps  # diffusers uses this for every spacing
        a_t = self.alphas_cumprod[t]
        a_prev = self.alphas_cumprod[prev_t] if prev_t >= 0 else self.final_alpha_cumprod
        b_t = 1 - a_t
        x0, eps = _x0_eps(c["prediction_type"], model_output, sample, a_t, b_t)
        if c["clip_sample"]:
            x0 = x0.clamp(-c["clip_sample_range"], c["clip_sample_range"])
        variance = (1 - a_prev) / b_t * (1 - a_t / a_prev)
        std = c["eta"] * variance ** 0.5
        prev = a_prev ** 0.5 * x0 + (1 - a_prev - std ** 2) ** 0.5 * eps
        if c["eta"] > 0:
            prev = prev + std * noise
        return prev


# ---------------------------------------------------------------- DPM-Solver++ multistep

class DPMpp:
    def __init__(self, num_train_timesteps=1000, beta_start=0.0001, beta_end=0.02, beta_schedule="linear",
                 solver_order=2, prediction_type="epsilon", solver_type="midpoint", lower_order_final=True,
                 euler_at_final=False, final_sigmas_type="zero", timestep_spacing="linspace", steps_offset=0):
        self.cfg = dict(locals()); del self.cfg["self"]
        self.alphas_cumprod = alphas_cumprod_of(make_betas(beta_schedule, num_train_timesteps, beta_start, beta_end))

    def set_timesteps(self, steps):
        c = self.cfg
        n = c["num_train_timesteps"]
        last = n  # lambda_min_clipped = -inf
        sp = c["timestep_spacing"]
        if sp == "linspace":
            ts = np.linspace(0, last - 1, steps + 1).round()[::-1][:-1].copy().astype(np.int64)
        elif sp == "leading":
            ratio = last // (steps + 1)
            ts = (np.arange(0, steps + 1) * ratio).round()[::-1][:-1].copy().astype(np.int64) + c["steps_offset"]
        elif sp == "trailing":
            ratio = n / steps
            ts = np.arange(last, 0, -ratio).round().copy().astype(np.int64) - 1
        else:
            raise ValueError(sp)
        sig = np.array(((1 - self.alphas_cumprod) / self.alphas_cumprod) ** 0.5)
        sig = np.interp(ts, np.arange(0, len(sig)), sig)
        if c["final_sigmas_type"] == "sigma_min":
            last_sigma = ((1 - self.alphas_cumprod[0]) / self.alphas_cumprod[0]) ** 0.5
        else:
            last_sigma = 0
        self.sigmas = torch.from_numpy(np.concatenate([sig, [last_sigma]]).astype(np.float32))
        self.timesteps = torch.from_numpy(ts).to(torch.int64)
        self.model_outputs = [None] * c["solver_order"]
        self.lower_order_nums = 0
        self.step_index = 0

    def needs_noise(self, t):
        return False

    @staticmethod
    def _alpha_sigma(sigma):
        alpha = 1 / (sigma ** 2 + 1) ** 0.5
        return alpha, sigma * alpha

    def step(self, model_output, t, sample, noise):
        c = self.cfg
        i, n = self.step_index, len(self.timesteps)
        lof = i == n - 1 and (c["euler_at_final"] or (c["lower_order_final"] and n < 15) or c["final_sigmas_type"] == "zero")
        a_s, s_s = self._alpha_sigma(self.sigmas[i])
        if c["prediction_type"] == "epsilon":
            x0 = (sample - s_s * model_output) / a_s
        elif c["prediction_type"] == "sample":
            x0 = model_output
        elif c["prediction_type"] == "v_prediction":
            x0 = a_s * sample - s_s * model_output
        self.model_outputs = self.model_outputs[1:] + [x0]
        a_t, s_t = self._alpha_sigma(self.sigmas[i + 1])
        lam_t = torch.log(a_t) - torch.log(s_t)
        lam_s0 = torch.log(a_s) - torch.log(s_s)
        h = lam_t - lam_s0
        if c["solver_order"] == 1 or self.lower_order_nums < 1 or lof:
            prev = s_t / s_s * sample - a_t * (torch.exp(-h) - 1.0) * x0
        else:
            a_s1, s_s1 = self._alpha_sigma(self.sigmas[i - 1])
            lam_s1 = torch.log(a_s1) - torch.log(s_s1)
            m0, m1 = self.model_outputs[-1], self.model_outputs[-2]
            r0 = (lam_s0 - lam_s1) / h
            d0, d1 = m0, 1.0 / r0 * (m0 - m1)
            if c["solver_type"] == "midpoint":
                prev = s_t / s_s * sample - a_t * (torch.exp(-h) - 1.0) * d0 - 0.5 * (a_t * (torch.exp(-h) - 1.0)) * d1
            else:
                prev = s_t / s_s * sample - a_t * (torch.exp(-h) - 1.0) * d0 + a_t * ((torch.exp(-h) - 1.0) / h + 1.0) * d1
        if self.lower_order_nums < c["solver_order"]:
            self.lower_order_nums += 1
        self.step_index += 1
        return prev


# ---------------------------------------------------------------- flow-matching Euler

class FlowEuler:
    def __init__(self, num_train_timesteps=1000, shift=1.0):
        self.cfg = dict(locals()); del self.cfg["self"]
        n = num_train_timesteps
        ts = torch.from_numpy(np.linspace(1, n, n, dtype=np.float32)[::-1].copy()).to(torch.float32)
        s = ts / n
        s = shift * s / (1 + (shift - 1) * s)
        self.sigma_max, self.sigma_min = s[0].item(), s[-1].item()

    def set_timesteps(self, steps):
        n, shift = self.cfg["num_train_timesteps"], self.cfg["shift"]
        ts = np.linspace(self.sigma_max * n, self.sigma_min * n, steps)
        s = ts / n
        s = shift * s / (1 + (shift - 1) * s)
        s = torch.from_numpy(s).to(dtype=torch.float32)
        self.timesteps = s * n
        self.sigmas = torch.cat([s, torch.zeros(1)])
        self.step_index = 0

    def needs_noise(self, t):
        return False

    def step(self, model_output, t, sample, noise):
        dt = self.sigmas[self.step_index + 1] - self.sigmas[self.step_index]
        self.step_index += 1
        return sample + dt * model_output


SAMPLERS = {"ddpm": DDPM, "ddim": DDIM, "dpmpp": DPMpp, "euler": FlowEuler}


# ---------------------------------------------------------------- training helpers

def add_noise(alphas_cumprod, x0, noise, t):
    a = alphas_cumprod[t] ** 0.5
    s = (1 - alphas_cumprod[t]) ** 0.5
    shape = (-1,) + (1,) * (x0.dim() - 1)
    return a.view(shape) * x0 + s.view(shape) * noise


def get_velocity(alphas_cumprod, x0, noise, t):
    a = alphas_cumprod[t] ** 0.5
    s = (1 - alphas_cumprod[t]) ** 0.5
    shape = (-1,) + (1,) * (x0.dim() - 1)
    return a.view(shape) * noise - s.view(shape) * x0


def compute_snr(alphas_cumprod, t):
    return (alphas_cumprod ** 0.5 / (1.0 - alphas_cumprod) ** 0.5)[t] ** 2


def min_snr_weights(alphas_cumprod, t, gamma, prediction_type):
    snr = compute_snr(alphas_cumprod, t)
    w = torch.stack([snr, gamma * torch.ones_like(t, dtype=torch.float32)], dim=1).min(dim=1)[0]
    if prediction_type == "epsilon":
        return w / snr
    if prediction_type == "v_prediction":
        return w / (snr + 1)
    return w


def flow_noisy(x0, noise, t):
    """Rectified flow: x_t = (1 - t) x0 + t noise (diffusers' scale_noise with sigma = t)."""
    shape = (-1,) + (1,) * (x0.dim() - 1)
    return (1.0 - t.view(shape)) * x0 + t.view(shape) * noise


def flow_velocity(x0, noise):
    return noise - x0


def logit_normal_t(z, mean, std):
    """compute_density_for_timestep_sampling("logit_normal"): sigmoid(N(mean, std)), given standard normals z."""
    return torch.sigmoid(mean + std * z)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sampler", default="ddim", choices=sorted(SAMPLERS))
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--options", default="{}", help="JSON of scheduler options")
    a = ap.parse_args()
    s = SAMPLERS[a.sampler](**json.loads(a.options))
    s.set_timesteps(a.steps)
    out = {"timesteps": [float(t) for t in s.timesteps]}
    if s.sigmas is not None:
        out["sigmas"] = [float(x) for x in s.sigmas]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
