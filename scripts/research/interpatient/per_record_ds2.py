"""Per-record DS2 confusion of a saved student (float), to see where N Se / S +P are lost."""
import sys
import numpy as np
from configs import CONFIGS
from lib import *
model_path, recipe = sys.argv[1], sys.argv[2]
cfg = CONFIGS[recipe]
B = load_beats()
feats = record_features(B, cfg)
from tinyecg.evaluate import load_keras
m = load_keras(model_path)
lab = (B["y"] >= 0) & (B["y"] <= 3) & B["keep"]
tot = np.zeros((4, 4), int)
for rec in DS2:
    te = np.flatnonzero(lab & (B["rec"] == rec))
    p = m.predict(make_inputs(B, te, cfg, feats), verbose=0, batch_size=4096).argmax(1)
    cm = confusion(B["y"][te], p); tot += cm
    print(f"{rec}: N {cm[0].sum():5d} ->S {cm[0,1]:4d} ->V {cm[0,2]:4d} ->F {cm[0,3]:4d} | S {cm[1].sum():4d} ->S {cm[1,1]:4d} ->N {cm[1,0]:4d} | V {cm[2].sum():4d} ->V {cm[2,2]:4d} ->N {cm[2,0]:3d} ->F {cm[2,3]:3d} | F {cm[3].sum():3d} ->F {cm[3,3]:3d} ->V {cm[3,2]:3d}")
print(fmt(scores(tot)))
