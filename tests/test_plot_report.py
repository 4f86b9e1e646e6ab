"""The generator's report figure stays readable however many P&C rounds the report holds."""

import itertools

import matplotlib

matplotlib.use("Agg")

from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402

from recbole_intent.plot import plot_report  # noqa: E402


def _visible_tick_labels(axis):
    return [t for t in axis.get_ticklabels() if t.get_visible() and t.get_text()]


def test_report_figure_tick_labels_do_not_overlap(tmp_path, monkeypatch):
    figures = []
    import matplotlib.figure

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", lambda fig, out, **kw: figures.append(fig))
    report = {"pool_size_per_round": list(range(64, 90)), "tries_histogram": {"1": 339, "2": 134, "3": 112},
              "failed": 197, "failure_rate": 0.25}  # 26 rounds, as beauty's report
    plot_report(report, tmp_path / "r.png")
    canvas = FigureCanvasAgg(figures[0])
    canvas.draw()
    renderer = canvas.get_renderer()
    fig = figures[0]
    left, right = fig.axes
    rounds = _visible_tick_labels(right.xaxis)
    assert 2 <= len(rounds) <= 12 and all(t.get_text().lstrip("−-").isdigit() for t in rounds)
    for axis in (left.xaxis, right.xaxis):
        boxes = [t.get_window_extent(renderer) for t in _visible_tick_labels(axis)]
        assert not any(a.overlaps(b) for a, b in itertools.combinations(boxes, 2))
