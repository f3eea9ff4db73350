// export_resolver_check.cpp - host harness for the generated tinyecg_op_resolver.h
// (tests/test_export.py): builds the resolver against our recording MicroMutableOpResolver
// (tests/c/export_tflm/...) and prints its capacity, the registration status and the builtin
// operator each Add* call registered. It also includes the C headers a C++ firmware
// (main.cpp) includes, to show they compile as C++.
#include <cstdio>

#include "tinyecg_arena.h"
#include "tinyecg_golden.h"
#include "tinyecg_model_data.h"
#include "tinyecg_model_meta.h"
#include "tinyecg_op_resolver.h"

int main()
{
    tinyecg::OpResolver resolver;
    const TfLiteStatus status = tinyecg::RegisterOps(resolver);
    std::printf("capacity %u\n", tinyecg::OpResolver::kCapacity);
    std::printf("meta_op_count %u\n", static_cast<unsigned>(TINYECG_OP_COUNT));
    std::printf("labels %d golden %d arena %u\n", TINYECG_NUM_LABELS, TINYECG_GOLDEN_COUNT,
                static_cast<unsigned>(TINYECG_ARENA_BYTES));
    std::printf("status %d\n", static_cast<int>(status));
    for (unsigned int i = 0; i < resolver.GetRegistrationLength(); ++i) {
        std::printf("op %s\n", resolver.Registered(i));
    }
    // registering again must fail as in TFLM (each op once, capacity exactly N)
    std::printf("second %d\n", static_cast<int>(tinyecg::RegisterOps(resolver)));
    return status == kTfLiteOk ? 0 : 1;
}
