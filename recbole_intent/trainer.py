"""RecBole's Trainer with weights-only checkpoints and a per-epoch hook for the intent models.

Only two things change (everything else, early stopping, evaluation, tensorboard, is RecBole's):
- checkpoints hold tensors and a plain-dict config, and are loaded with ``weights_only=True`` (see ``compat``);
- before each training epoch the model's ``on_epoch_start(epoch_idx)`` is called if it has one: the intent
  models refresh their enriched intent labels there every rho epochs (VELI4SBR Algorithm 2, line 2);
- ``lr_decay_step`` / ``lr_decay_gamma``: an optional step decay of the learning rate (``StepLR``, stepped after each
  epoch, so epoch e trains at ``learning_rate * gamma ** (e // step)``), as the released LLM4SBR and LLM-DMsRec codes
  train (``--lr_dc 0.1 --lr_dc_step 3``); off when ``lr_decay_step`` is None. With it on, a validation score that
  only *ties* the best no longer resets early stopping's patience (RecBole's ``early_stopping`` counts ``>=``):
  once StepLR has shrunk the rate to ~0 a deterministic model (plain SR-GNN has no dropout) repeats its score
  exactly, and the run would go on to ``epochs`` (seen on ML-1M: still training after 500 s on a GPU, where its intent
  versions stopped at 13-19 epochs).
"""

import math
import re
import time

import torch
from recbole.trainer import Trainer as RecBoleTrainer
from recbole.utils import set_color

from recbole_intent.compat import load_checkpoint, plain_config


class Trainer(RecBoleTrainer):
    def __init__(self, config, model):
        super().__init__(config, model)
        self.epoch_seconds = []  # wall time of each training epoch, enrichment included (for benchmarks)
        self._fit_started = None  # when the first epoch of this fit began: the pace includes validation
        self.epoch_callback = None  # f(epoch_idx, seconds) after each training epoch: Stage 1's progress lines
        self.lr_scheduler = self._build_lr_scheduler()

    def _build_lr_scheduler(self):
        step, gamma = self.config["lr_decay_step"], self.config["lr_decay_gamma"]
        if step is None:
            return None
        if not isinstance(step, int) or step < 1 or not 0 < gamma <= 1:
            raise ValueError(f"lr_decay_step must be an integer >= 1 and lr_decay_gamma in (0, 1], "
                             f"got lr_decay_step={step!r}, lr_decay_gamma={gamma!r}")
        return torch.optim.lr_scheduler.StepLR(self.optimizer, step_size=step, gamma=gamma)

    def _train_epoch(self, train_data, epoch_idx, loss_func=None, show_progress=False):
        start = time.perf_counter()
        if self._fit_started is None or epoch_idx == self.start_epoch:
            self._fit_started = start
        hook = getattr(self.model, "on_epoch_start", None)
        if hook is not None:
            hook(epoch_idx)
        loss = super()._train_epoch(train_data, epoch_idx, loss_func=loss_func, show_progress=show_progress)
        if self.lr_scheduler is not None:
            self.lr_scheduler.step()
        self.epoch_seconds.append(time.perf_counter() - start)
        if self.epoch_callback is not None:
            self.epoch_callback(epoch_idx, self.epoch_seconds[-1])
        return loss

    def _valid_epoch(self, valid_data, show_progress=False):
        score, result = super()._valid_epoch(valid_data, show_progress=show_progress)
        if self.lr_scheduler is not None and score == self.best_valid_score:
            score = math.nextafter(score, -math.inf if self.valid_metric_bigger else math.inf)  # a tie: no progress
        return score, result

    def _generate_train_loss_output(self, epoch_idx, s_time, e_time, losses):
        line = super()._generate_train_loss_output(epoch_idx, s_time, e_time, losses)
        if isinstance(losses, tuple):
            for idx, name in enumerate(loss_names(self.model, len(losses))):
                line = re.sub(rf"train_loss{idx + 1}(?!\d)", name, line, count=1)  # the name is colour-coded
        done = epoch_idx - self.start_epoch + 1
        pace = (time.perf_counter() - self._fit_started) / done if self._fit_started is not None else e_time - s_time
        return line + " " + progress_note(epoch_idx, self.epochs, pace, self.cur_step, self.stopping_step,
                                          self.eval_step)

    def _save_checkpoint(self, epoch, verbose=True, **kwargs):
        if not self.config["single_spec"] and self.config["local_rank"] != 0:
            return
        saved_model_file = kwargs.pop("saved_model_file", self.saved_model_file)
        state = {
            "config": plain_config(self.config),
            "epoch": epoch,
            "cur_step": self.cur_step,
            "best_valid_score": float(self.best_valid_score),
            "state_dict": self.model.state_dict(),
            "other_parameter": self.model.other_parameter(),
            "optimizer": self.optimizer.state_dict(),
        }
        torch.save(state, saved_model_file)
        if verbose:
            self.logger.info(set_color("Saving current", "blue") + f": {saved_model_file}")

    def _load_into_model(self, checkpoint_file):
        checkpoint = load_checkpoint(checkpoint_file, map_location=self.device)
        saved_model = checkpoint["config"].get("model")
        if saved_model != self.config["model"]:
            raise ValueError(f"{checkpoint_file} holds a {saved_model} model, not {self.config['model']}.")
        self.model.load_state_dict(checkpoint["state_dict"])
        self.model.load_other_parameter(checkpoint.get("other_parameter"))
        return checkpoint

    def resume_checkpoint(self, resume_file):
        resume_file = str(resume_file)
        self.saved_model_file = resume_file
        checkpoint = self._load_into_model(resume_file)
        self.start_epoch = checkpoint["epoch"] + 1
        self.cur_step = checkpoint["cur_step"]
        self.best_valid_score = checkpoint["best_valid_score"]
        self.optimizer.load_state_dict(checkpoint["optimizer"])
        if self.lr_scheduler is not None:  # the optimizer's state holds the decayed rate; only the count is restored
            self.lr_scheduler.last_epoch = self.start_epoch
        self.logger.info(f"Checkpoint loaded. Resume training from epoch {self.start_epoch}")

    @torch.no_grad()
    def evaluate(self, eval_data, load_best_model=True, model_file=None, show_progress=False):
        if not eval_data:
            return
        if load_best_model:
            checkpoint_file = model_file or self.saved_model_file
            self._load_into_model(checkpoint_file)
            self.logger.info(f"Loading model structure and parameters from {checkpoint_file}")
        return super().evaluate(eval_data, load_best_model=False, show_progress=show_progress)


def loss_names(model, count):
    """Names of the terms a model's ``calculate_loss`` returns as a tuple (RecBole prints train_loss1, 2, ...)."""
    from recbole_intent.model.llm4sbr import LLM4SBR
    from recbole_intent.model.llmdmsrec import LLMDMsRec
    from recbole_intent.model.veli import IntentEnhanced

    names = getattr(model, "loss_names", None)
    if names is None and isinstance(model, IntentEnhanced):
        names = ("rec", "intent", "ortho")  # L_rec (Eq. 12 / CE), lambda x L_intent (10), lambda x L_ortho (17)
    elif names is None and isinstance(model, LLM4SBR):
        names = ("rec", "au")  # CE and au_weight x (alignment + uniformity), LLM4SBR Eq. 15
    elif names is None and isinstance(model, LLMDMsRec):
        names = ("rec", "info")  # CE and sigma x L_info, LLM-DMsRec Eq. 15
    names = list(names or [])[:count]
    return names + [f"train_loss{idx + 1}" for idx in range(len(names), count)]


def progress_note(epoch_idx, epochs, pace, cur_step, stopping_step, eval_step=1):
    """'| 3/200 epochs, 12.0 s/epoch, left <= 39.4 min, >= 1.8 min (early stop)' after RecBole's epoch line.

    ``pace`` is the wall time per epoch so far, validation included. The upper bound runs every epoch left; the lower
    bound is early stopping's: RecBole stops once ``cur_step`` (evaluations without a better valid score, counted up
    to the previous one) exceeds ``stopping_step``, so at least ``stopping_step - cur_step`` more evaluations follow
    unless this epoch's validation improves.
    """
    done = epoch_idx + 1
    most = max(epochs - done, 0)
    note = f"| {done}/{epochs} epochs, {pace:.1f} s/epoch"
    if most == 0:
        return note + ", last epoch"
    least = min(most, max(stopping_step - cur_step, 0) * max(eval_step, 1)) if eval_step > 0 else most
    left = f"{most} epoch{'s' * (most > 1)}"
    return note + f", left <= {_minutes(most * pace)} ({left}), >= {_minutes(least * pace)} (early stop)"


def _minutes(seconds):
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"
