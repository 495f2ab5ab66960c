/* --preload: `mathlib` is another artifact, instantiated first; its
 * exports are this program's imports. */
#include <stdio.h>

__attribute__((import_module("mathlib"), import_name("triple"))) int triple(int);
__attribute__((import_module("mathlib"), import_name("calls"))) int calls(void);

int main(void) {
    printf("triple(14) = %d\n", triple(14));
    printf("triple(-5) = %d\n", triple(-5));
    printf("mathlib was called %d times\n", calls());
    return 0;
}
