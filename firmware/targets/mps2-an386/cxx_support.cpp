/*
 * cxx_support.cpp - the few C++ run-time pieces C++ code (TFLM's, the TFLM adapter's) refers
 * to on this bare-metal target, which has no heap use and links without the compiler's start
 * files (-nostartfiles). The Makefile links it into every program with C++ sources
 * (APP_CXX_SRCS): the firmware with TFLM, the TFLM self-test programs.
 *
 *   __cxa_pure_virtual  the vtable slot of a pure virtual function (TFLM's interfaces:
 *                       MicroOpResolver, MicroAllocator's planners, ...); called only if an
 *                       object is used during its construction or destruction, a bug:
 *                       report it and stop.
 *   operator delete     the "deleting destructor" of every class with a virtual destructor
 *                       refers to it, although nothing here is ever allocated with new
 *                       (placement new into static buffers only). Defining it keeps
 *                       libstdc++'s version, and with it malloc/free, out of the image;
 *                       reaching it is a bug: report it and stop.
 *   __dso_handle        the identity of this image for __cxa_atexit, which registers the
 *                       destructors of static objects (the adapter's op resolver);
 *                       crtbegin.o defines it, and -nostartfiles leaves that out.
 */
#include <stddef.h>

#include "semihost.h"

namespace {

[[noreturn]] void stop(const char *why)
{
    semihost_write0(why);
    semihost_exit(3);
}

} // namespace

extern "C" void __cxa_pure_virtual(void)
{
    stop("\n*** C++: pure virtual function called\n");
}

void operator delete(void *pointer) noexcept
{
    (void)pointer;
    stop("\n*** C++: operator delete called (nothing is heap-allocated)\n");
}

void operator delete(void *pointer, size_t size) noexcept
{
    (void)pointer;
    (void)size;
    stop("\n*** C++: operator delete called (nothing is heap-allocated)\n");
}

extern "C" {
void *__dso_handle = &__dso_handle;
}
