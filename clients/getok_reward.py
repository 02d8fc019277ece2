"""GETok rewards for GRPO from a running `getok serve` (docs/rl.md). Python standard library only.

Each completion's ground truth is a JSON string (the dataset's ground-truth column):
  grid turn        {"image_id": 25560, "ann_id": 29572}       or "ann_ids": [...], or "image" + "gt"
  refinement turn  {"image_id": 25560, "ann_id": 29572, "prev": "<box>...</box><seg>...</seg>"}
                   (the completion refines "prev", the answer of the turn before: under the box
                   rule an offsets record's box_prev, then its prev; a <seg> alone fails no_box)
and may name the "task" (seg, box, point, multi, refine) when the answer's shape does not say it.

Reward per completion, in [0, 1], with w = format_weight:
  grid turn        (1 - w) * quality + w * format_ok     quality: mask IoU (box IoU for a box answer,
                                                          1/0 for a point inside/outside the object)
  refinement turn  (1 - w) * offset_acc + w * format_ok  offset_acc: share of offset tokens that are
                                                          right (a <DELETE> only where no one-step
                                                          move reaches the object); format_ok: the
                                                          refinement parsed and pairs with "prev"
A completion that does not parse scores 0. A server error is raised, never turned into a reward.

EasyR1:  worker.reward.reward_type=batch  worker.reward.reward_function=./getok_reward.py:compute_score
         worker.reward.skip_special_tokens=false
verl:    reward_model.reward_manager=batch  custom_reward_function.path=./getok_reward.py
         custom_reward_function.name=compute_score_batched
"""

import json
import os
import sys
import time
import urllib.error
import urllib.request

GETOK_URL = os.environ.get("GETOK_URL", "http://127.0.0.1:8420")
TIMEOUT_S = float(os.environ.get("GETOK_TIMEOUT_S", "300"))
RETRIES = int(os.environ.get("GETOK_RETRIES", "5"))
CHUNK = 1024  # samples per request (the server's --max-samples is 4096 by default)
RETRY_STATUS = (429, 502, 503, 504)  # busy, timed out, still loading: worth another try


class GetokServeError(RuntimeError):
    pass


def score(samples, url=None, timeout=None, retries=None):
    """POST /score in chunks; one reply dict per sample, in order."""
    url = (url or GETOK_URL).rstrip("/") + "/score"
    timeout = TIMEOUT_S if timeout is None else timeout
    retries = RETRIES if retries is None else retries
    replies = []
    for start in range(0, len(samples), CHUNK):
        replies.extend(_post(url, samples[start : start + CHUNK], timeout, retries))
    return replies


def _post(url, body, timeout, retries):
    data = json.dumps(body).encode("utf-8")
    for attempt in range(retries + 1):
        request = urllib.request.Request(url, data=data, method="POST", headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as error:
            text = error.read().decode("utf-8", "replace")
            try:
                text = json.loads(text)["error"]
            except (ValueError, KeyError, TypeError):
                pass
            if error.code not in RETRY_STATUS or attempt == retries:
                raise GetokServeError(f"getok serve answered {error.code}: {text}") from None
        except (urllib.error.URLError, OSError) as error:  # refused, reset, timed out
            if attempt == retries:
                raise GetokServeError(f"getok serve not reachable at {url} after {retries + 1} tries: {error}") from None
        time.sleep(min(10.0, 0.5 * 2**attempt))


def _sample(completion, ground_truth):
    truth = json.loads(ground_truth) if isinstance(ground_truth, str) else dict(ground_truth)
    prev = truth.pop("prev", None)
    if prev is None:
        return dict(truth, answer=completion), "grid"
    return dict(truth, answer=prev, refinement=completion), "refine"


def turn_reward(reply, turn, format_weight=0.1):
    """(reward, quality, format_ok) of one reply; see the module's docstring."""
    if turn == "refine":
        refined = reply.get("refined") or {}
        ok = bool(refined.get("format_ok"))
        quality = refined.get("offset_acc")
    else:
        ok = bool(reply.get("format_ok"))
        quality = reply.get("iou")
        if quality is None and reply.get("point_hit") is not None:
            quality = 1.0 if reply["point_hit"] else 0.0
        if quality is None:
            quality = reply.get("box_iou")
    quality = float(quality) if ok and quality is not None else 0.0
    return (1.0 - format_weight) * quality + format_weight * float(ok), quality, ok


def scored(completions, ground_truths, format_weight=0.1, url=None):
    """(reward, quality, format_ok) per completion."""
    pairs = [_sample(c, g) for c, g in zip(completions, ground_truths)]
    replies = score([p[0] for p in pairs], url=url)
    if replies and all(r.get("failure") == "no_tokens" for r in replies):
        print("getok_reward: no completion holds a GETok token: decoded with skip_special_tokens?", file=sys.stderr)
    return [turn_reward(r, turn, format_weight) for r, (_, turn) in zip(replies, pairs)]


def compute_score(reward_inputs, format_weight=0.1):
    """EasyR1 batch reward function: [{"response", "ground_truth", ...}] → [{"overall", "format", "accuracy"}]."""
    out = scored([r["response"] for r in reward_inputs], [r["ground_truth"] for r in reward_inputs], format_weight)
    return [{"overall": total, "format": float(ok), "accuracy": quality} for total, quality, ok in out]


def compute_score_batched(data_sources, solution_strs, ground_truths, extra_infos=None, format_weight=0.1, **_):
    """verl batch reward manager: one float per completion."""
    return [total for total, _, _ in scored(list(solution_strs), list(ground_truths), format_weight)]
