"""The OpenCV dnn peer of the benchmark: a Caffe model run by OpenCV, driven line by line.

Usage: opencv_peer.py DEPLOY.prototxt MODEL.caffemodel INPUT.f32 N,C,H,W THREADS LOGITS PROB OUT_DIR

Loads the model with cv2.dnn.readNetFromCaffe (CPU, OpenCV's own backend, fusion on: what a
user gets), sets INPUT.f32 (raw little-endian float32, NCHW) as its input and OpenCV's thread
count, runs one untimed forward and prints "ready". Then, for each line on stdin:

  forward   runs a forward pass to PROB and prints "done" (what the benchmark times)
  outputs   runs one to LOGITS and PROB, writes OUT_DIR/logits.f32 and OUT_DIR/prob.f32, prints "done"
  quit      exits
"""
import os
import sys

import cv2
import numpy as np


def main(argv):
    prototxt, model, input_file, shape_text, threads, logits, prob, out_dir = argv[1:9]
    cv2.setNumThreads(int(threads))
    net = cv2.dnn.readNetFromCaffe(prototxt, model)
    net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
    net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)
    shape = [int(d) for d in shape_text.split(",")]
    net.setInput(np.fromfile(input_file, dtype="<f4").reshape(shape))
    net.forward(prob)
    print("ready", flush=True)
    for line in sys.stdin:
        command = line.strip()
        if command == "forward":
            net.forward(prob)
        elif command == "outputs":
            values = net.forward([logits, prob])
            for name, value in zip(("logits", "prob"), values):
                np.ascontiguousarray(value, dtype="<f4").tofile(os.path.join(out_dir, name + ".f32"))
        elif command == "quit":
            return
        else:
            raise SystemExit("opencv_peer.py: unknown command " + repr(command))
        print("done", flush=True)


if __name__ == "__main__":
    main(sys.argv)
