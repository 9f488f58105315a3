/* inplace_main FOLDER: calls bump(x) (x += 1; return x.sum()), which writes
   into its argument, on the 4 float64s of FOLDER/x.bin, then with a NULL shape
   and with NULL data (errors), and on no elements (NULL data is fine then).
   Prints x after the call, the sum, and each error. */
#include "bump.h"
#include "io.h"

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: inplace_main FOLDER\n");
        return 2;
    }
    double *x = read_input(argv[1], "x", sizeof(double) * 4);
    int64_t shape[] = {4}, empty[] = {0};
    jitc_tensor total;
    check(bump(x, shape, &total));
    printf("x %.17g %.17g %.17g %.17g\nsum %.17g\n", x[0], x[1], x[2], x[3], *(double *)total.data);
    jitc_free(total.data);
    printf("no shape %d %s\n", bump(x, NULL, &total), jitc_last_error());
    printf("no data %d %s\n", bump(NULL, shape, &total), jitc_last_error());
    check(bump(NULL, empty, &total));
    printf("empty sum %.17g\n", *(double *)total.data);
    jitc_free(total.data);
    free(x);
    return 0;
}
