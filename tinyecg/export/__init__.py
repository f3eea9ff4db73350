"""Export: read int8 flatbuffers and render C from the Jinja templates in templates/."""
