"""RTSP output (RFC 2326): the media hub's cameras for NVRs and players, H.264 passed through.

codec.py parses requests, sdp.py describes a camera, h264.py and jpeg.py packetise frames,
stream.py keeps one client's RTP numbering, access.py decides who may watch, server.py does I/O.
"""
