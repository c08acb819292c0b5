"""Outcomes simulated over the recovered population: outcome specs, models, forecasts."""
