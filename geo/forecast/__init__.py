"""The weekly risk forecast: the model (model.py), its backtest against simple baselines
(backtest.py) and the stored weekly runs the big screen and the forecast layer read (store.py)."""
