import sys, time
from lib import load_beats, DS1
from augment import augmented_beats
from configs import CONFIGS
t=time.time()
for name in sys.argv[1:]:
    B = augmented_beats(load_beats(), CONFIGS[name], DS1)
    print(name, len(B["r"]), time.time()-t, flush=True)
