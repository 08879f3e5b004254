/*
 * no_dlclose.so - preloaded into every process of the sanitized test pass
 * (tests/run_all.sh sanitize): dlclose does nothing, so a library once
 * loaded stays mapped until exit.
 *
 * Why: MPI_Finalize unloads Open MPI's components, and what they allocated at
 * MPI_Init is still held at exit. LeakSanitizer then matches each such stack
 * against tests/lsan.supp, and for every frame in an unloaded library it
 * re-reads /proc/self/maps: about 500 times, 1.5 s of every sanitized
 * process. With the components still mapped the frames resolve to their
 * libraries (mca_*.so), the suppressions match at once, and a leak report
 * names real frames instead of "<unknown module>".
 *
 * The sanitizers are not touched: this library defines dlclose alone, so
 * malloc and the rest still resolve to libasan, and ASan is told not to
 * insist on coming first (verify_asan_link_order=0).
 */
#include <dlfcn.h>

int dlclose(void *handle)
{
    (void)handle;
    return 0;
}
