"""Runs a Caffe model with OpenCV's dnn module and writes every layer's output.

Usage: forward.py DEPLOY.prototxt MODEL.caffemodel INPUT.f32 N,C,H,W OUT_DIR

INPUT.f32 is a raw little-endian float32 tensor. OUT_DIR receives one raw little-endian
float32 file per layer (the layer's output right after it runs, as OpenCV reports it with
fusion off, so in-place layers have their own) and index.json listing them with shapes.
The same settings as the reference outputs of shared/fixtures/caffe: CPU, no fusion.
"""
import json
import os
import re
import sys

import cv2
import numpy as np


def main(argv):
    prototxt, model, input_file, shape_text, out_dir = argv[1:6]
    shape = [int(d) for d in shape_text.split(",")]
    net = cv2.dnn.readNetFromCaffe(prototxt, model)
    net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
    net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)
    net.enableFusion(False)
    x = np.fromfile(input_file, dtype="<f4").reshape(shape)
    net.setInput(x)
    names = list(net.getLayerNames())
    outputs = net.forward(names)
    os.makedirs(out_dir, exist_ok=True)
    layers = []
    for name, value in zip(names, outputs):
        file = re.sub(r"[^A-Za-z0-9._-]", "_", name) + ".f32"
        np.ascontiguousarray(value, dtype="<f4").tofile(os.path.join(out_dir, file))
        layers.append({"layer": name, "shape": list(value.shape), "file": file})
    with open(os.path.join(out_dir, "index.json"), "w") as f:
        json.dump({"opencv": cv2.__version__, "layers": layers}, f, indent=1)


if __name__ == "__main__":
    main(sys.argv)
