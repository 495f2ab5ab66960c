/* Linked into the wasm32-wasi builds only. WASI has no file modes or owners,
 * so wasi-libc leaves out chmod/chown and their fd forms; the compressors'
 * CLIs call them to copy the input's attributes onto the output, which under
 * WASI has nothing to copy. Succeeding without effect keeps their exit codes
 * the same as natively, where the calls are real. */
#include <sys/types.h>

int chmod(const char *path, mode_t mode) { (void)path; (void)mode; return 0; }
int fchmod(int fd, mode_t mode) { (void)fd; (void)mode; return 0; }
int chown(const char *path, uid_t owner, gid_t group) { (void)path; (void)owner; (void)group; return 0; }
int fchown(int fd, uid_t owner, gid_t group) { (void)fd; (void)owner; (void)group; return 0; }
