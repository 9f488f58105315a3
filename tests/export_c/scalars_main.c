/* scalars_main FOLDER N: one program calling two exported libraries.
   affine(x, bias_pair, scale, shift, negate) -> (y, float, int, bool) was
   saved with float64 and float32 versions (affine_0, affine_1); halves(x, n)
   was compiled for n=2. Inputs come from FOLDER/<name>.bin, x of shape (2, 3),
   the pair of shape (3,); halves is called with n = N on 8 float64s.
   Prints each scalar result as "name value" and writes the arrays. */
#include "affine.h"
#include "halves.h"
#include "io.h"

static void print_scalars(const char *name, double total, int64_t product, bool positive) {
    printf("%s_sum %.17g\n%s_product %lld\n%s_positive %d\n", name, total, name, (long long)product, name,
           positive);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: scalars_main FOLDER N\n");
        return 2;
    }
    const char *folder = argv[1];
    int64_t x_shape[] = {2, 3}, pair_shape[] = {3}, halves_shape[] = {8};
    double *x = read_input(folder, "x64", sizeof(double) * 6);
    double *low = read_input(folder, "low64", sizeof(double) * 3), *high = read_input(folder, "high64", sizeof(double) * 3);
    float *x32 = read_input(folder, "x32", sizeof(float) * 6);
    float *low32 = read_input(folder, "low32", sizeof(float) * 3), *high32 = read_input(folder, "high32", sizeof(float) * 3);
    double *values = read_input(folder, "values", sizeof(double) * 8);
    jitc_tensor y, y32, stacked;
    double total;
    int64_t product;
    bool positive;
    check(affine_0(x, x_shape, low, pair_shape, high, pair_shape, 2.5, 3, true, &y, &total, &product, &positive));
    write_output(folder, "y64", &y);
    print_scalars("f64", total, product, positive);
    check(affine_1(x32, x_shape, low32, pair_shape, high32, pair_shape, -0.5, 2, false, &y32, &total, &product,
                   &positive));
    write_output(folder, "y32", &y32);
    print_scalars("f32", total, product, positive);
    fflush(stdout);
    check(halves(values, halves_shape, size_argument(argv[2]), &stacked));
    write_output(folder, "stacked", &stacked);
    free(x), free(low), free(high), free(x32), free(low32), free(high32), free(values);
    return 0;
}
