"""Layout: where a page's fields are. The paper (and each document) on a scanner bed
(paper.py), faint pages restored (contrast.py), pages turned upright (orientation.py);
templates (templates.py); deskew, alignment to a template's reference form and
registration of its boxes (deskew.py, reference.py, register.py); with no template, the
digit strings found on the page (strings.py); page_fields.py chooses; overlay.py draws a
template's boxes for people. Hands on ``FieldImage`` (field_image.py)."""
