/* Host harness for the C driver's packing (tests/test_c_driver.py), reading stdin:
 *   P c0 c1 ... c(N-1)   -> the image's BRAM_MLP_IMAGE_BYTES bytes, in hex
 *   U b0 b1 ... (hex)     -> "class logit0 logit1 ..." from BRAM_MLP_RESULT_BYTES bytes
 * one answer line per request line. */
#include <inttypes.h>
#include <stdio.h>
#include "bram_mlp_dma.h"

int main(void)
{
    char kind;
    while (scanf(" %c", &kind) == 1) {
        if (kind == 'P') {
            uint16_t codes[BRAM_MLP_N_INPUTS];
            uint8_t image[BRAM_MLP_IMAGE_BYTES];
            for (int i = 0; i < BRAM_MLP_N_INPUTS; i++) {
                unsigned v;
                if (scanf("%u", &v) != 1) return 2;
                codes[i] = (uint16_t)v;
            }
            bram_mlp_pack(codes, image);
            for (int i = 0; i < BRAM_MLP_IMAGE_BYTES; i++) printf("%02x", image[i]);
            printf("\n");
        } else if (kind == 'U') {
            uint8_t result[BRAM_MLP_RESULT_BYTES];
            int32_t class_out;
            int64_t logits[BRAM_MLP_N_OUTPUTS];
            for (int i = 0; i < BRAM_MLP_RESULT_BYTES; i++) {
                unsigned v;
                if (scanf("%2x", &v) != 1) return 2;
                result[i] = (uint8_t)v;
            }
            bram_mlp_unpack(result, &class_out, logits);
            printf("%" PRId32, class_out);
            for (int j = 0; j < BRAM_MLP_N_OUTPUTS; j++) printf(" %" PRId64, logits[j]);
            printf("\n");
        } else {
            return 2;
        }
    }
    return 0;
}
