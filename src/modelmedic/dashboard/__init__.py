"""The monitoring dashboard: one page that tells the story of the model at a glance.

:mod:`~modelmedic.dashboard.payload` gathers what the page shows (the latest ``monitor`` and
``backtest`` results, the champion's model card from MLflow, the retrain decisions and,
when served with a prediction log, the live traffic) into one JSON-ready dict;
:mod:`~modelmedic.dashboard.routes` serves the page, that JSON, plotly.js from the
installed plotly package (no CDN) and each window's evidently report.

Served by the prediction service at ``/`` and by ``modelmedic dashboard`` without it.
"""
