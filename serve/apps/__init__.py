"""What users run a model through: the Gradio app, the HTTP API, terminal chat, batch inference."""
