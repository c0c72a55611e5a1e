"""Layout: where a page's fields are. Templates (templates.py); deskew and registration
of a template's boxes (deskew.py, register.py); with no template, the digit strings
found on the page (strings.py); page_fields.py chooses; overlay.py draws a template's
boxes for people. Hands on ``FieldImage`` (field_image.py)."""
