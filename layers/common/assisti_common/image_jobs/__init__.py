"""Image jobs, one pipeline for every kind (OCR, animals, road signs).

- `kinds`: the one list of kinds and each kind's typed result, shared by the worker that writes it
  and the API that reads it.
- `storage`: the S3 key layout and the upload policy (presigned POST, presigned GET, reads, deletes).
- `items` and `api`: the item rules and the five HTTP routes every kind shares.
- `events`: the S3 uploads an SQS record announces. `dead_letters`: the model-free dead-letter handler.
- `images` and `worker`: the worker's checks of an upload and the SQS handler (these need Pillow,
  which only the worker images install).
"""
