/* Recovery points for traps.
 *
 * sigsetjmp returns twice, which Rust cannot call soundly, so the frame that
 * owns the jump buffer is this C function. Rust passes a body callback; a
 * trap anywhere below it (in Wasm code, in a signal handler running on the
 * same thread, or in a builtin) jumps back here and the function returns 1.
 *
 * The signal mask is not saved (savemask 0): the handlers are installed
 * with SA_NODEFER and an empty sa_mask, so jumping out of one leaves the mask
 * as it was, and a Wasm call costs no sigprocmask system call.
 */
#include <setjmp.h>

int kiln_setjmp_call(void **jmp_buf_slot, void (*body)(void *), void *payload) {
    sigjmp_buf buf;
    if (sigsetjmp(buf, 0) != 0) {
        return 1;
    }
    *jmp_buf_slot = (void *)&buf;
    body(payload);
    return 0;
}

void kiln_longjmp(void *jmp_buf) {
    siglongjmp(*(sigjmp_buf *)jmp_buf, 1);
}
