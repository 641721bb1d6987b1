"""svc's own content encoder (`speech_encoder` "svcphone"): a small causal network that maps
16 kHz speech to one row per 20 ms of phonetic content, trained here with a phonetic teacher.

- phones.py  the phone set, CMU pronunciations, and forced alignment with Debian's pocketsphinx
             (the en-us acoustic model, trained on many real speakers) -> one phone per 20 ms
- corpus.py  the transcribed speech that may go into a shipped model (CC0 / CC BY / public domain,
             never VCC 2016) and espeak-ng speech of CMU ARCTIC prompts nobody recorded here
- model.py   the encoder: HuBERT framing (400-sample window, 320-sample hop), log-mel, causal
             convolutions; training-time perturbation of formants, pitch and EQ (NANSY-style)
- train.py   `python -m svc_py.content.train`: align, train, score (phone accuracy, speaker
             probe), export encoder.onnx (source [1,1,N] -> embed [1,T,D])
"""
