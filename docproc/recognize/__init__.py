"""Recognize: the models (model_files.py, loading.py, batches.py, cards.py), how crops are
read with them (classifier.py, field_reading.py), and a field's reading chosen and judged
(decode.py)."""
