/* conv_ocv_hooks_undef.h - undefines the output-channel tile's hooks
 * (A2_OCV_*, defined by conv_ocv_pick.h) where an ISA file's last dtype
 * with that tile ends: conv_avx2.c before its float64 instantiation (the
 * spatial tile only), conv_avx512.c after both dtypes. */
#undef A2_OCV
#undef A2_OCV_KB
#undef A2_OCV_USE
#undef A2_OCV_PACKED_SIZE
#undef A2_OCV_PACK
#undef A2_OCV_SCRATCH
#undef A2_OCV_BAND
