"""The four stages, each a package of plain functions over batches of records:
augment -> train -> export -> score. Stages use the model layer (prefit.model), SPL parsing
(prefit.spl) and the infrastructure modules (records I/O, atomic outputs, resumable jobs, Ray);
none of those imports a stage."""
