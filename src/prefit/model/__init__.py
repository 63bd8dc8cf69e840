"""The model layer: a saved classifier and every computation of its logits. Run-folder and export
formats (folder.py), pooling and the [CLS]-top forward, windows over long texts, the TF-IDF blend,
peers stored without pickle, frozen-encoder embeddings, and the PyTorch / ONNX / scikit-learn
backends behind one `Classifier` (classifier.py). Nothing here imports a stage."""
