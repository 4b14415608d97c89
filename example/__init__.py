"""An example model (customer churn), its synthetic data and a drift generator, used by the demo and the tests."""
