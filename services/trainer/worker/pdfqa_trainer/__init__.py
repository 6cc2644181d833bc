"""pdfqa trainer worker: LoRA fine-tuning of the answering model, run as a child process.

The Go trainer service starts ``python -m pdfqa_trainer <mode> --config job.json`` and reads
JSON lines from stdout (see events.py). The same command runs in a Kubernetes Job or a
Modal function: everything it needs is in the config file and the cache directory.
"""

__version__ = "0.1.0"
