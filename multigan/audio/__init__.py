"""Audio data for multigan: file I/O, a checked folder dataset and spectral features.

``multigan.audio.features`` (torchaudio) is not imported here; import it where it is needed.
"""

from .dataset import FSDD_PATTERN, AudioDatasetError, AudioFolder, fsdd_split
from .io import AudioFileError, info, load_audio, save_wav, save_wavs

__all__ = [
    "FSDD_PATTERN",
    "AudioDatasetError",
    "AudioFileError",
    "AudioFolder",
    "fsdd_split",
    "info",
    "load_audio",
    "save_wav",
    "save_wavs",
]
