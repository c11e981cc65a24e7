"""Monitoring's numbers, in plain NumPy and SciPy: no Django here, so the bench and the tests
call them directly, and every number is checked against scikit-learn, SciPy or fairlearn."""
