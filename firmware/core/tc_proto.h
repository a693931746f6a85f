/* tc_proto.h - wire constants of the serial protocol (docs/protocol.md). */
#ifndef TC_PROTO_H
#define TC_PROTO_H

#define TC_PROTO_VERSION 1u
#define TC_HDR_BYTES 8u /* u8 version, u8 type, u16 req_id, u32 body_len (little-endian) */
#define TC_CRC_BYTES 4u /* zlib.crc32 over header + body, little-endian */

enum tc_msg_type {
  TC_T_HELLO = 0x01,
  TC_T_ECHO = 0x02,
  TC_T_RUN = 0x03,
  TC_T_ENCODE = 0x04,
  TC_T_DECODE = 0x05,
  TC_T_INFO = 0x81,
  TC_T_ECHO_REPLY = 0x82,
  TC_T_RUN_RESULT = 0x83,
  TC_T_ENCODE_RESULT = 0x84,
  TC_T_DECODE_RESULT = 0x85,
  TC_T_ERROR = 0xEE,
};

enum tc_err_code {
  TC_E_BAD_CRC = 1,
  TC_E_TOO_LONG = 2,
  TC_E_UNKNOWN_TYPE = 3,
  TC_E_BAD_LENGTH = 4,
  TC_E_BAD_MODEL = 5,
  TC_E_RUN_FAILED = 6,
  TC_E_BAD_VERSION = 7,
  TC_E_BAD_FRAMING = 8,
  TC_E_BAD_QUALITY = 9,  /* ENCODE/DECODE: no tables/models for the quality, or no codec in this firmware */
  TC_E_BAD_PAYLOAD = 10, /* DECODE: the rANS decoder rejected the payload (message says why) */
};

#define TC_RUN_HDR_BYTES 4u      /* u8 model_idx + 3 reserved */
#define TC_RUN_TICKS_BYTES 8u    /* u64 ticks before the output */
#define TC_CODEC_HDR_BYTES 4u    /* ENCODE/DECODE: u8 quality + 3 reserved */
#define TC_CODEC_TICKS_BYTES 16u /* ENCODE_RESULT/DECODE_RESULT: two u64 tick counts before the data */

/* INFO capability bits (the u16 after n_models; 0 in firmware older than the codec commands). */
#define TC_CAP_CODEC 0x0001u /* ENCODE/DECODE supported; INFO ends with u8 n_qualities, u8 quality[n] */

#endif /* TC_PROTO_H */
