/* bram_mlp_dma.c: a bram-mlp network behind a Xilinx AXI DMA in simple mode, bare metal
 * (Vitis / SDK standalone BSP on the Zynq's ARM core). Part of bram-mlp; the generator
 * copies it into <out>/driver/ with the design's bram_mlp_layout.h (the sizes) and
 * bram_mlp_test_data.h (its first test vectors and the reference model's answers).
 *
 * main() sends those test vectors and prints each class and the logits over the UART
 * (xil_printf), then how many matched the reference. Build it in a Vitis application
 * project on the platform made from build.tcl's .xsa (docs/vivado_block_design.md);
 * define BRAM_MLP_NO_MAIN to use the functions in a program of your own.
 *
 * Written against the XAxiDma driver API (xaxidma.h of Xilinx's embeddedsw) and PG021;
 * compiled here with gcc -Wall -Wextra against a stand-in xaxidma.h, its packing
 * unit-tested on the host (tests/test_c_driver.py). Not run on a board by its authors.
 */
#include <stdint.h>
#include <string.h>

#include "xaxidma.h"
#include "xil_cache.h"
#include "xil_printf.h"
#include "xparameters.h"
#include "xstatus.h"

#include "bram_mlp_dma.h"

/* buffers the DMA reads and writes: BRAM_MLP_ALIGN-byte aligned (the DMA has no
 * unaligned-transfer engine), whole cache lines (32 bytes on the Cortex-A9) */
#define ROUND_UP(n) (((n) + BRAM_MLP_ALIGN - 1) / BRAM_MLP_ALIGN * BRAM_MLP_ALIGN)
static uint8_t tx_buffer[ROUND_UP(BRAM_MLP_IMAGE_BYTES)] __attribute__((aligned(BRAM_MLP_ALIGN)));
static uint8_t rx_buffer[ROUND_UP(BRAM_MLP_RESULT_BYTES)] __attribute__((aligned(BRAM_MLP_ALIGN)));

int bram_mlp_init(XAxiDma *dma, UINTPTR device)
{
    XAxiDma_Config *config = XAxiDma_LookupConfig(device);
    if (config == NULL) {
        xil_printf("bram_mlp: no AXI DMA configuration for device %d\r\n", (int)device);
        return XST_FAILURE;
    }
    if (XAxiDma_CfgInitialize(dma, config) != XST_SUCCESS) {
        xil_printf("bram_mlp: AXI DMA initialization failed\r\n");
        return XST_FAILURE;
    }
    if (XAxiDma_HasSg(dma)) {
        xil_printf("bram_mlp: the AXI DMA is in scatter-gather mode; build.tcl makes it "
                   "simple (c_include_sg 0)\r\n");
        return XST_FAILURE;
    }
    XAxiDma_IntrDisable(dma, XAXIDMA_IRQ_ALL_MASK, XAXIDMA_DEVICE_TO_DMA);
    XAxiDma_IntrDisable(dma, XAXIDMA_IRQ_ALL_MASK, XAXIDMA_DMA_TO_DEVICE);
    return XST_SUCCESS;
}

void bram_mlp_pack(const uint16_t codes[BRAM_MLP_N_INPUTS], uint8_t image[BRAM_MLP_IMAGE_BYTES])
{
    /* code i goes to beat i / SIMD, at bit (i % SIMD) * INPUT_BITS of that beat; the
     * beat's bytes little-endian; bits beyond the last code stay 0 */
    memset(image, 0, BRAM_MLP_IMAGE_BYTES);
    for (uint32_t i = 0; i < BRAM_MLP_N_INPUTS; i++) {
        uint32_t first = (i / BRAM_MLP_INPUT_SIMD) * BRAM_MLP_S_AXIS_BYTES * 8u
                         + (i % BRAM_MLP_INPUT_SIMD) * BRAM_MLP_INPUT_BITS;
        for (uint32_t b = 0; b < BRAM_MLP_INPUT_BITS; b++) {
            if ((codes[i] >> b) & 1u) {
                image[(first + b) / 8u] |= (uint8_t)(1u << ((first + b) % 8u));
            }
        }
    }
}

/* the little-endian word of BRAM_MLP_M_AXIS_BYTES bytes at word index k, sign-extended */
static int64_t result_word(const uint8_t result[BRAM_MLP_RESULT_BYTES], uint32_t k)
{
    uint64_t word = 0;
    for (uint32_t b = 0; b < BRAM_MLP_M_AXIS_BYTES; b++) {
        word |= (uint64_t)result[k * BRAM_MLP_M_AXIS_BYTES + b] << (8u * b);
    }
    if (BRAM_MLP_M_AXIS_BYTES < 8 && (word >> (8u * BRAM_MLP_M_AXIS_BYTES - 1u)) & 1u) {
        word |= ~(uint64_t)0 << (8u * BRAM_MLP_M_AXIS_BYTES % 64u);
    }
    return (int64_t)word;
}

void bram_mlp_unpack(const uint8_t result[BRAM_MLP_RESULT_BYTES], int32_t *class_out,
                     int64_t logits[BRAM_MLP_N_OUTPUTS])
{
    *class_out = (int32_t)result_word(result, 0);   /* beat 0: the class */
    for (uint32_t j = 0; j < BRAM_MLP_N_OUTPUTS; j++) {
        logits[j] = result_word(result, j + 1u);    /* beat 1 + j: logit j */
    }
}

int bram_mlp_classify(XAxiDma *dma, const uint16_t codes[BRAM_MLP_N_INPUTS],
                      int32_t *class_out, int64_t logits[BRAM_MLP_N_OUTPUTS],
                      uint32_t timeout)
{
    bram_mlp_pack(codes, tx_buffer);
    Xil_DCacheFlushRange((INTPTR)tx_buffer, sizeof tx_buffer);       /* the DMA reads DRAM */
    Xil_DCacheInvalidateRange((INTPTR)rx_buffer, sizeof rx_buffer);  /* no dirty lines over it */
    /* the receive transfer first: the result cannot come before it is armed anyway */
    if ((int)XAxiDma_SimpleTransfer(dma, (UINTPTR)rx_buffer, BRAM_MLP_RESULT_BYTES,
                                    XAXIDMA_DEVICE_TO_DMA) != XST_SUCCESS) {
        return XST_FAILURE;
    }
    if ((int)XAxiDma_SimpleTransfer(dma, (UINTPTR)tx_buffer, BRAM_MLP_IMAGE_BYTES,
                                    XAXIDMA_DMA_TO_DEVICE) != XST_SUCCESS) {
        return XST_FAILURE;
    }
    uint32_t polls = 0;
    while (XAxiDma_Busy(dma, XAXIDMA_DMA_TO_DEVICE) || XAxiDma_Busy(dma, XAXIDMA_DEVICE_TO_DMA)) {
        if (++polls > timeout) {
            return XST_FAILURE;
        }
    }
    Xil_DCacheInvalidateRange((INTPTR)rx_buffer, sizeof rx_buffer);  /* what the DMA wrote */
    bram_mlp_unpack(rx_buffer, class_out, logits);
    return XST_SUCCESS;
}

#ifndef BRAM_MLP_NO_MAIN
#include "bram_mlp_test_data.h"

/* the DMA of build.tcl's block design, axi_dma_0 */
#ifndef SDT
#define BRAM_MLP_DMA_DEVICE XPAR_AXIDMA_0_DEVICE_ID
#else
#define BRAM_MLP_DMA_DEVICE XPAR_XAXIDMA_0_BASEADDR
#endif
#define BRAM_MLP_TIMEOUT 100000000u   /* polls, far more than one image takes */

/* v in decimal (xil_printf has no 64-bit conversion) */
static const char *decimal(int64_t v, char text[24])
{
    char *p = text + 23;
    uint64_t magnitude = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    *p = '\0';
    do {
        *--p = (char)('0' + magnitude % 10u);
        magnitude /= 10u;
    } while (magnitude != 0u);
    if (v < 0) {
        *--p = '-';
    }
    return p;
}

int main(void)
{
    static XAxiDma dma;
    int32_t class_out;
    int64_t logits[BRAM_MLP_N_OUTPUTS];
    char text[24];
    int right = 0;

    xil_printf("\r\nbram-mlp network %s: %d test images through the AXI DMA\r\n",
               BRAM_MLP_NAME, BRAM_MLP_N_TEST_IMAGES);
    if (bram_mlp_init(&dma, BRAM_MLP_DMA_DEVICE) != XST_SUCCESS) {
        return XST_FAILURE;
    }
    for (int k = 0; k < BRAM_MLP_N_TEST_IMAGES; k++) {
        if (bram_mlp_classify(&dma, bram_mlp_test_images[k], &class_out, logits,
                              BRAM_MLP_TIMEOUT) != XST_SUCCESS) {
            xil_printf("image %d: the DMA did not finish\r\n", k);
            return XST_FAILURE;
        }
        int same = class_out == bram_mlp_test_classes[k];
        xil_printf("image %d: class %d (reference %d), logits", k, (int)class_out,
                   (int)bram_mlp_test_classes[k]);
        for (int j = 0; j < BRAM_MLP_N_OUTPUTS; j++) {
            xil_printf(" %s", decimal(logits[j], text));
            same = same && logits[j] == bram_mlp_test_logits[k][j];
        }
        xil_printf(same ? ": as the reference\r\n" : ": DIFFERENT from the reference\r\n");
        right += same;
    }
    xil_printf("%d of %d images as the reference model\r\n", right, BRAM_MLP_N_TEST_IMAGES);
    return right == BRAM_MLP_N_TEST_IMAGES ? XST_SUCCESS : XST_FAILURE;
}
#endif /* BRAM_MLP_NO_MAIN */
