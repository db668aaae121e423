// A preload library for scripts/layout.sh: it records which pages of the main program's code a process runs,
// each page once, in the order it first runs them. At start it makes the program's executable segment
// inaccessible; a fault on it appends the page's offset in the program (8 bytes, little-endian) to NAME.PID
// beside this library, where NAME is the program's file name, and makes the page executable again. Linked with
// every function on a page of its own (scripts/layout/one-function-per-page.lds), a page is a function.
// Exact, unlike /proc/PID/pagemap: the kernel maps up to 16 neighbours of each page it faults in (fault-around),
// but never across a change of protection. A fault anywhere else is a real crash. The program's own SIGSEGV
// handler (the Swift runtime's backtracer installs one) is not installed while tracing: it would take each of
// these faults for a crash.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <libgen.h>
#include <link.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGE ((uintptr_t)4096)
static int trace = -1;
static uintptr_t base, start, end;
static int (*next_sigaction)(int, const struct sigaction *, struct sigaction *);

static void on_fault(int signal_number, siginfo_t *info, void *context) {
    uintptr_t address = (uintptr_t)info->si_addr;
    if (address < start || address >= end) {
        // Not ours: die of it as without the tracer.
        struct sigaction plain = {.sa_handler = SIG_DFL};
        next_sigaction(signal_number, &plain, NULL);
        return;
    }
    uintptr_t page = address & ~(PAGE - 1);
    mprotect((void *)page, PAGE, PROT_READ | PROT_EXEC);
    uint64_t offset = page - base;
    // Fails only in a process that closed the descriptor (the monitor's PAM workers do): not recorded.
    (void)!write(trace, &offset, sizeof offset);
}

static int find_main_program_code(struct dl_phdr_info *info, size_t size, void *unused) {
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *segment = &info->dlpi_phdr[i];
        if (segment->p_type == PT_LOAD && (segment->p_flags & PF_X)) {
            base = info->dlpi_addr;
            start = (base + segment->p_vaddr) & ~(PAGE - 1);
            end = (base + segment->p_vaddr + segment->p_memsz + PAGE - 1) & ~(PAGE - 1);
            break;
        }
    }
    return 1;  // the first object is the main program
}

int sigaction(int signal_number, const struct sigaction *action, struct sigaction *previous) {
    if (!next_sigaction) next_sigaction = dlsym(RTLD_NEXT, "sigaction");
    if (signal_number == SIGSEGV && trace >= 0 && action) {
        if (previous) memset(previous, 0, sizeof *previous);
        return 0;
    }
    return next_sigaction(signal_number, action, previous);
}

__attribute__((constructor)) static void start_tracing(void) {
    Dl_info self;
    char library[4096], program[4096] = {0}, path[8300];
    next_sigaction = dlsym(RTLD_NEXT, "sigaction");
    if (!dladdr((void *)start_tracing, &self) || !self.dli_fname) return;
    snprintf(library, sizeof library, "%s", self.dli_fname);
    if (readlink("/proc/self/exe", program, sizeof program - 1) < 0) return;
    snprintf(path, sizeof path, "%s/%s.%d", dirname(library), basename(program), (int)getpid());
    trace = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (trace < 0) return;
    dl_iterate_phdr(find_main_program_code, NULL);
    struct sigaction action = {.sa_sigaction = on_fault, .sa_flags = SA_SIGINFO};
    sigfillset(&action.sa_mask);
    next_sigaction(SIGSEGV, &action, NULL);
    mprotect((void *)start, end - start, PROT_NONE);
}
