/* bram_mlp_dma.h: send images to a bram-mlp network through a Xilinx AXI DMA in simple
 * mode, and read its class and logits back (bare metal: Vitis / SDK standalone BSP).
 * Part of bram-mlp; the generator copies it into <out>/driver/ beside the design's
 * bram_mlp_layout.h, which gives the sizes. See bram_mlp_dma.c.
 */
#ifndef BRAM_MLP_DMA_H
#define BRAM_MLP_DMA_H

#include <stdint.h>
#include "xaxidma.h"
#include "bram_mlp_layout.h"

/* Look up and initialize the DMA (its device ID, or its base address with a
 * system-device-tree BSP: the Xilinx examples' #ifdef SDT), check it is in simple mode,
 * interrupts off (the transfers are polled). XST_SUCCESS or XST_FAILURE. */
int bram_mlp_init(XAxiDma *dma, UINTPTR device);

/* An image (BRAM_MLP_N_INPUTS codes of BRAM_MLP_INPUT_BITS bits) as the bytes the DMA
 * streams: BRAM_MLP_IMAGE_BYTES of them. */
void bram_mlp_pack(const uint16_t codes[BRAM_MLP_N_INPUTS],
                   uint8_t image[BRAM_MLP_IMAGE_BYTES]);

/* The class and the logits from the BRAM_MLP_RESULT_BYTES bytes the DMA wrote. */
void bram_mlp_unpack(const uint8_t result[BRAM_MLP_RESULT_BYTES], int32_t *class_out,
                     int64_t logits[BRAM_MLP_N_OUTPUTS]);

/* One image through the network: pack, flush, both transfers, wait (at most timeout
 * polls of each channel), unpack. XST_SUCCESS, or XST_FAILURE if a transfer was refused
 * or did not finish. */
int bram_mlp_classify(XAxiDma *dma, const uint16_t codes[BRAM_MLP_N_INPUTS],
                      int32_t *class_out, int64_t logits[BRAM_MLP_N_OUTPUTS],
                      uint32_t timeout);

#endif /* BRAM_MLP_DMA_H */
