/*
 * fixed_layout COMMAND [ARGS...]: run COMMAND with address space layout randomization off and an 8 MiB stack limit.
 *
 * The PGO training run counts how often each branch of CPython is taken, and some of those counts depend on
 * addresses: the allocator's arenas, dicts and sets keyed by id(), the type attribute cache. With the addresses
 * randomized, two training runs give different counts and the compiler optimizes differently; with them fixed,
 * the counts are a function of the inputs. The stack limit is fixed too, because the kernel places shared
 * libraries below a gap that depends on it.
 *
 * Built by build_cpython.sh with the compile's own C compiler, so no host tool (setarch) is needed.
 * Exits 3 when the kernel refuses (a seccomp filter, such as Docker's default profile, forbids this personality).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <unistd.h>

#define QUERY_PERSONALITY 0xffffffff
#define STACK_LIMIT (8UL << 20)

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s COMMAND [ARGS...]\n", argv[0]);
        return 2;
    }
    int current = personality(QUERY_PERSONALITY);
    if (current == -1 || personality((unsigned long)current | ADDR_NO_RANDOMIZE) == -1 ||
        !(personality(QUERY_PERSONALITY) & ADDR_NO_RANDOMIZE)) {
        fprintf(stderr, "fixed_layout: the kernel refused personality(ADDR_NO_RANDOMIZE): %s\n",
                errno ? strerror(errno) : "the flag did not stick");
        return 3;
    }
    struct rlimit stack;
    if (getrlimit(RLIMIT_STACK, &stack) == 0) {
        /* Only the soft limit: raising the hard one needs a privilege. */
        stack.rlim_cur = stack.rlim_max < STACK_LIMIT ? stack.rlim_max : STACK_LIMIT;
        setrlimit(RLIMIT_STACK, &stack);
    }
    execvp(argv[1], argv + 1);
    fprintf(stderr, "fixed_layout: cannot run %s: %s\n", argv[1], strerror(errno));
    return 127;
}
