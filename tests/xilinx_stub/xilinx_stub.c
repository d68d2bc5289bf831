/* Definitions behind the stand-in headers, so that the C driver links and runs on a PC
 * (tests/test_c_driver.py). The stand-in DMA plays the network with the reference
 * model's answers: an image sent (MM2S) that is one of the design's test vectors, packed
 * by bram_mlp_pack, gets that vector's class and logits (bram_mlp_test_data.h) written
 * into the armed receive buffer as the hardware's result words; any other image gets
 * nothing (and main() then reports a difference). Transfers finish at once. With
 * STUB_CORRUPT defined, one bit of test vector 1's logit 0 is flipped (vector 1
 * is all codes at their maximum, unlike any other) (the test that
 * shows main()'s comparison can fail). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "xaxidma.h"
#include "xil_cache.h"
#include "xil_printf.h"
#include "bram_mlp_dma.h"
#include "bram_mlp_test_data.h"

static uint8_t *armed;   /* the S2MM buffer, once a receive transfer is armed */

static void reply(const uint8_t *image, uint8_t *result)
{
    uint8_t packed[BRAM_MLP_IMAGE_BYTES];
    for (int k = 0; k < BRAM_MLP_N_TEST_IMAGES; k++) {
        bram_mlp_pack(bram_mlp_test_images[k], packed);
        if (memcmp(packed, image, BRAM_MLP_IMAGE_BYTES) == 0) {
            for (int w = 0; w < BRAM_MLP_RESULT_BEATS; w++) {
                int64_t v = w == 0 ? bram_mlp_test_classes[k] : bram_mlp_test_logits[k][w - 1];
                for (int b = 0; b < BRAM_MLP_M_AXIS_BYTES; b++) {
                    result[w * BRAM_MLP_M_AXIS_BYTES + b] = (uint8_t)((uint64_t)v >> (8 * b));
                }
            }
#ifdef STUB_CORRUPT
            if (k == 1) {
                result[BRAM_MLP_M_AXIS_BYTES] ^= 1u;   /* logit 0 of image 1 off by one bit */
            }
#endif
            return;
        }
    }
}

static XAxiDma_Config config = {0, 0x40400000U, 0};

#ifndef SDT
XAxiDma_Config *XAxiDma_LookupConfig(u32 DeviceId) { (void)DeviceId; return &config; }
#else
XAxiDma_Config *XAxiDma_LookupConfig(UINTPTR BaseAddress) { (void)BaseAddress; return &config; }
#endif
int XAxiDma_CfgInitialize(XAxiDma *InstancePtr, XAxiDma_Config *Config)
{
    InstancePtr->RegBase = Config->BaseAddr;
    InstancePtr->HasSg = Config->HasSg;
    return XST_SUCCESS;
}
u32 XAxiDma_SimpleTransfer(XAxiDma *InstancePtr, UINTPTR BuffAddr, u32 Length, int Direction)
{
    (void)InstancePtr;
    if (Direction == XAXIDMA_DEVICE_TO_DMA) {
        if (Length < BRAM_MLP_RESULT_BYTES) return XST_FAILURE;
        armed = (uint8_t *)BuffAddr;
    } else {
        if (Length != BRAM_MLP_IMAGE_BYTES || armed == NULL) return XST_FAILURE;
        reply((const uint8_t *)BuffAddr, armed);
        armed = NULL;
    }
    return XST_SUCCESS;
}
u32 XAxiDma_Busy(XAxiDma *InstancePtr, int Direction) { (void)InstancePtr; (void)Direction; return 0; }
void Xil_DCacheFlushRange(INTPTR adr, u32 len) { (void)adr; (void)len; }
void Xil_DCacheInvalidateRange(INTPTR adr, u32 len) { (void)adr; (void)len; }
void xil_printf(const char8 *ctrl1, ...)
{
    va_list args;
    va_start(args, ctrl1);
    vprintf(ctrl1, args);
    va_end(args);
}
