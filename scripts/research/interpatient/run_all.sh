#!/bin/bash
# Reproduce the issue-12 study. Needs a checkout of tinyecg at 493a651 (the package these
# scripts were written against): git worktree add /tmp/tinyecg-493a651 493a651
# TINYECG_493A651=/tmp/tinyecg-493a651 MITDB=../shared/data/mitdb bash run_all.sh
set -e
cd "$(dirname "$0")"
: "${TINYECG_493A651:?a checkout of tinyecg at 493a651}"
python3 prep.py                                   # beats.npz: all 44 records, both leads
python3 gen_aug.py tmpl_aug tmpl_syn tmpl_syn_aug # augmented DS1 copies (cached)
# DS1 leave-records-out CV (4 folds by record, lib.FOLDS), one config per call:
for c in base rrnew rrnew_k6 tmpl diff tmpl_only tmpl_add tmpl_add_w1 tmpl_aug tmpl_syn \
         tmpl_syn_aug syn_noa synaug_noa syn_w1 syn_bal5 syn_focal syn_notmpl; do
  nice -n 10 python3 cv.py $c --threads 1 > logs_$c.txt 2>&1
done
nice -n 10 python3 cv.py synaug_noa --seed 1 --threads 1 > logs_synaug_noa_s1.txt 2>&1
nice -n 10 python3 cv.py synaug_noa_tg --threads 1 > logs_synaug_noa_tg.txt 2>&1
python3 summarize_cv.py > cv_table.md
python3 posthoc2.py synaug_noa_s0 syn_noa_s0      # the RR gate on the S decision
# pre-registered recipe (chosen on DS1 only) on DS2: teacher + distillation + int8 TFLM
python3 final.py final --teacher teacher --seed 0 --tag final
python3 final.py final --teacher teacher --seed 1 --tag final
python3 final.py final --tag abl_full --seed 0
python3 devpath.py models/final_s0_student_int8.tflite final   # device path (C detector)
python3 diag_dev.py 232                                         # why S collapses there
# revised recipe final2 (template gate pre-only, no RR gate; DS2-informed, see report)
python3 final.py final2 --teacher teacher --seed 0 --tag final2
python3 final.py final2 --teacher teacher --seed 1 --tag final2
python3 devpath.py models/final2_s0_student_int8.tflite final2
python3 devpath.py models/final2_s1_student_int8.tflite final2
python3 per_record_ds2.py models/final2_s0_student.keras final2
# ablations on DS2 (student trained directly, float + int8 TFLM), one lever removed each
python3 final.py final2 --tag abl2_full --seed 0
for c in abl2_no_template abl2_old_rr abl2_no_synth abl2_no_mimic abl2_keep_a abl_today; do
  python3 final.py $c --seed 0
done
python3 summarize_ds2.py > ds2_table.md
