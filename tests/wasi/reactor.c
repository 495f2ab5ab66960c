/* A reactor (built with -mexec-model=reactor): its exports work only after
 * `_initialize` has run the constructors, which `kiln run --invoke` calls. */
#include <stdio.h>
#include <stdlib.h>

static int answer_value;

__attribute__((constructor)) static void initialize(void) {
    answer_value = atoi("42");
}

__attribute__((export_name("answer"))) int answer(void) {
    printf("answering\n");
    fflush(stdout);
    return answer_value;
}
