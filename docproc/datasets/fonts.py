"""Handwriting fonts, honestly obtained: faces of the npm ``@fontsource`` collection.

Each font is one package of the collection at a pinned version; docproc uses its Latin
regular face (``files/NAME-latin-400-normal.woff``), which Pillow's FreeType renders. The
files are fetched once with ``npm pack`` (the npm registry is the one source this project
may reach), checked against the SHA-256 sums below and cached outside the repository
(``$DOCPROC_FONT_DIR``, else ``$XDG_CACHE_HOME/docproc/fonts``).

The list was chosen by looking at every digit and mark of each face: handwriting and
school-hand faces under the SIL Open Font License (the collection's Apache-licensed faces
are left out), with only eight of the thirty-odd Playwrite school hands, whose designs
are close kin. Every fifth face in name order (``held_out``) is never trained on: it is
the test of styles the model has not seen.
"""

from __future__ import annotations

import shutil
import tarfile
import tempfile
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from docproc.datasets import cache
from docproc.datasets.mnist import sha256_of
from docproc.errors import DatasetError

LICENCE = "SIL Open Font License 1.1"


@dataclass(frozen=True)
class Font:
    """One face: its ``@fontsource`` package name and version, the SHA-256 of its Latin
    regular WOFF file, and whether it is held out of training."""

    name: str
    version: str
    sha256: str
    held_out: bool = False

    @property
    def package(self) -> str:
        """The npm package spec, for example ``@fontsource/caveat@5.3.0``."""
        return f"@fontsource/{self.name}@{self.version}"

    @property
    def file_name(self) -> str:
        """The face's file inside the package's ``files/`` folder and in the cache."""
        return f"{self.name}-latin-400-normal.woff"


FONTS: tuple[Font, ...] = (
    Font("amatic-sc", "5.3.0", "d71215390a3620f0f1eb98960fe50a25743efa302f050f015000eb5f942ec74e", held_out=False),
    Font("annie-use-your-telescope", "5.3.0", "555a3ba045673dfa29aa1b2ed52f17772212380d2da9a79dc813ef51e26b0147", held_out=False),
    Font("architects-daughter", "5.3.0", "0249dd5f81431dbf8a8406996c43f8018bf707221cf261d75145f083bb7091cf", held_out=True),
    Font("birthstone-bounce", "5.3.0", "89eda315831d856fc5058935f24f3c1095565f9d7827172f2b64871e3265e341", held_out=False),
    Font("caveat", "5.3.0", "38b98dbeb922a14a74dfb41f83fc24e0e645e2eed9ce72145fefbdae8828cbfb", held_out=False),
    Font("caveat-brush", "5.3.0", "2c57f92c541e3d7c8050ca99d8ce3f6ee2f64cbdfe72f304f6d7683f0db388ba", held_out=False),
    Font("cedarville-cursive", "5.3.0", "8d8360a98492b42d02c17e94c38bcd2a3cce6db6b9b430f3a110e71f81d7149c", held_out=False),
    Font("chilanka", "5.3.0", "e13443776c36ae978fcd63bb5e54af10043ed9df172f924e427e0e40ec783e39", held_out=True),
    Font("comforter-brush", "5.3.0", "256f02eed21673cc296f5080950777847ab8291767dd5c10ac0bb29ee7536c72", held_out=False),
    Font("comic-neue", "5.3.0", "54c45748205d08203132f268717d38a32e107a369081a0467e9aa7750668c10d", held_out=False),
    Font("covered-by-your-grace", "5.3.0", "876d8371eedf1f9add237910aea034ca42cd5bdc8f7d722c7a04819ab3f711b8", held_out=False),
    Font("dancing-script", "5.3.0", "3e114c39b274829edb96a698275563336a42ec5c2a9c1fb7d7108b8bb804bfd3", held_out=False),
    Font("dawning-of-a-new-day", "5.3.0", "db6b4ace05ee8134f67c89150c387961d9c4f3e8ecc3efecfe8510738c3158fd", held_out=True),
    Font("dekko", "5.3.0", "03a28a935e5e77df75afc369cac04b9e28be68aa2156c20c649103e29d084a60", held_out=False),
    Font("delius", "5.3.0", "eabc55870044215231d9f905b1b898926bcf588dc78e53523ea6590281b606f1", held_out=False),
    Font("edu-nsw-act-foundation", "5.3.0", "abebb0863c1a82e42f688b59d66851a6896cd8f46f543f60d3c24750709157ea", held_out=False),
    Font("edu-qld-beginner", "5.3.0", "c8406989bc5c5dfcf60f1edc010bc13434c25985f27c9ef1e87b64071b193776", held_out=False),
    Font("edu-sa-beginner", "5.3.0", "c33e51f7a131b9a2eefb06ae7e24af669fc9961ea1e4fd1d13f8658a995f0ea5", held_out=True),
    Font("edu-tas-beginner", "5.3.0", "16c8a0af47a3862aa01547ca64dbdda2d9c5b4c3b45a9b522182340b7e350aad", held_out=False),
    Font("edu-vic-wa-nt-beginner", "5.3.0", "d1d07ef8700ab8a5b349dc78e8c976629d63e62407dc092eb9f304d5a6ee08d6", held_out=False),
    Font("fuzzy-bubbles", "5.3.0", "7d4f62492b07a98081096631cf93ce385b6646a6f38d63a4cabbe24f0acbeeba", held_out=False),
    Font("gaegu", "5.3.0", "6d4c9dac093fce05bcf214b7b1e9d60de7ecae8a22aa940d63e586bcf32cab29", held_out=False),
    Font("gamja-flower", "5.3.0", "a38f64533c71165be3845e8e1600a2c6062464d83c7c160d00ee5a9cbd67c46d", held_out=True),
    Font("give-you-glory", "5.3.0", "84c8bec3e54403b756b60f5fa44aeb89ceb5a31c7296211a0d7717611bb73f8c", held_out=False),
    Font("gloria-hallelujah", "5.3.0", "31e7def8cf155d4dcc98216517ad509923a8a197bc9c8937668d04767c52040e", held_out=False),
    Font("gochi-hand", "5.3.0", "82a4149218f2edccef96d2b0ed5bf92adc6ea290222bac4dcfa3de91afb6b3a3", held_out=False),
    Font("grape-nuts", "5.3.0", "058c99599408dd60de19ebb1abbf764b9a18eebb553fee1670f0b2d2a4fd5235", held_out=False),
    Font("handlee", "5.3.0", "9a8af5254df769bbdc196fd998231daec67c81dc3d6fd6f294ed80c2c4343551", held_out=True),
    Font("hi-melody", "5.3.0", "346d604a1b9cbe55b43837112ce70dd6d30909898d82c3014c1f37f8e40f27a3", held_out=False),
    Font("indie-flower", "5.3.0", "2cf7154e899ad16246196238d6d13f0135c5feba2d8ccde5d97a22664d012660", held_out=False),
    Font("itim", "5.3.0", "b226c76f3c05960cc30eaeca322d31cc5ecbeb4c693996d5d0964f892de12b46", held_out=False),
    Font("just-me-again-down-here", "5.3.0", "154f149b85fa4145d2545b270db1a149c1815fca861b2ef90700cccf20e76050", held_out=False),
    Font("kalam", "5.3.0", "70ab8c1d2c10a28f213c6f1c359888624d5e650ffcd64f93a8194c3e14403746", held_out=True),
    Font("kavivanar", "5.3.0", "c3717d01704c1bab2c9c3f94fbd38a38fa9cdf0e91441cca637076914a672b69", held_out=False),
    Font("klee-one", "5.3.0", "4c039b95126f61e0eb408e604751ac097fbf768043011d0156b407315776c720", held_out=False),
    Font("kristi", "5.3.0", "baf2b649c525e4b3d6516c77c88c1533b4c0e7a8376e88f63c13ed4dd5e4be6a", held_out=False),
    Font("la-belle-aurore", "5.3.0", "d5ec94f05c2cb9ab9dd5bba03faede9a6d767803e36b6b5df36f64ada8546ce0", held_out=False),
    Font("liu-jian-mao-cao", "5.3.0", "cab561530949aaacec3f941e88d05386818c24b5a54ea50d2c5a50e0fefec0ae", held_out=True),
    Font("long-cang", "5.3.0", "2392465c01aa8beaf5495ad22a8c006115e48a21f3a10ec774aaee7aef51522b", held_out=False),
    Font("loved-by-the-king", "5.3.0", "c865f5db8c24e82e05b74065da789d1df28b12d66d2977e884af4a444ff46cb5", held_out=False),
    Font("ma-shan-zheng", "5.3.1", "f5e60482dc492b881e794ecf2090ee376be1623cb62ea60ddea010a59aa21620", held_out=False),
    Font("mali", "5.3.0", "cd38e40d516ab13ab4ef21cdb01671bac4c326ef338b39d87eb1892c5fc17bbf", held_out=False),
    Font("mansalva", "5.3.0", "956720ae5632b40a4f79e92b27b936e174a038aa41b8638d30965c61ab465aff", held_out=True),
    Font("marck-script", "5.3.0", "c26db9210c0b2823550e11baaeb2b6d234e5e5a14e8e6497029f29844859610d", held_out=False),
    Font("mynerve", "5.3.0", "5d9deb86c7caed58b6c2624cc2ff1e4cd76bd389e99cf5d62f6342b0242d1d29", held_out=False),
    Font("nanum-brush-script", "5.3.0", "4b1a6cfcd3147291f434cbf6a7b83fdaeba0f4c78190bb6290ef56650a3fc325", held_out=False),
    Font("nanum-gothic-coding", "5.3.0", "c22a26bda55c969e3dc8ba47cb876f619813200c988997135bf01a9e69d8122d", held_out=False),
    Font("nanum-pen-script", "5.3.0", "08cdd640e142c977071b4c3d5c33fd9ec322990e540f5511ca2fccff4568d0ec", held_out=True),
    Font("nerko-one", "5.3.0", "d0b2f6ceac641e22725f332f80c13df377bbb25ddb94c8fa47dd23a2c1266119", held_out=False),
    Font("neucha", "5.3.0", "b0c09e2ecd7d760fb997f926f2d15e53c57561802fb071a317832942536ca82a", held_out=False),
    Font("nothing-you-could-do", "5.3.0", "454bff123de1c8224aff670f12797ca91cf54becf6f8359391bd37a6dd68a60e", held_out=False),
    Font("oooh-baby", "5.3.0", "8adff98725aa267417e7cc2543a08056d22a170bea51de1b368c60a217e7a2bd", held_out=False),
    Font("over-the-rainbow", "5.3.0", "e721f12763490802b576b3c1511cf4a0c6a33221772bf846885a295e5b758e3e", held_out=True),
    Font("pangolin", "5.3.0", "d51be35cd652ff73e3d174e01cd978942cf67bcea08ab3043f711814fab162ce", held_out=False),
    Font("patrick-hand", "5.3.0", "0f7031f6665437e04d6f354c5f64d6ae6777b498afbe804638c45b957a7ce8aa", held_out=False),
    Font("playpen-sans", "5.3.0", "25b16389b5a9978b1b9949398c494451d02c738f837e64095601e1c8447341fb", held_out=False),
    Font("playwrite-at", "5.3.0", "f0eaaf381f3fadaa16a114e2ce13defc46fe0909ea4000542cf7203caa8a88fe", held_out=False),
    Font("playwrite-cz", "5.3.0", "97eb5b8985600339c77a0b8a0ae0af4a3c858fd7b6dd052fae985c98db15c713", held_out=True),
    Font("playwrite-de-grund", "5.3.0", "2ef35798b3ea53e8ff8501c4a1d4608096b0b74c3a165b5ea53b1b694484de94", held_out=False),
    Font("playwrite-dk-loopet", "5.3.0", "aa717d678634ad17d8cf213b890c9224d3811e5a9feacd77387a860219b40b20", held_out=False),
    Font("playwrite-hr", "5.3.0", "70ad35bbd59c3730438615da21916e4225a1764f28f8755aa9b09d417c32a0c8", held_out=False),
    Font("playwrite-hu", "5.3.0", "8185ca1b317afb4ef1c36731f8e8ce1a563e9d8a7ee8ca9a7ee112902282004f", held_out=False),
    Font("playwrite-is", "5.3.0", "01e19cd441a73936a14210b5488c0050058eefe54135abef11366b30f352d8d6", held_out=True),
    Font("playwrite-nz", "5.3.0", "fce15a1297e4228ede49736551a0d1ba82198ae04ccb825befb46d1f7758b5b6", held_out=False),
    Font("reenie-beanie", "5.3.0", "1b86681155e125625f01839b2e6688dde2b2a7766a8eb49645b3a8707c2bee9f", held_out=False),
    Font("ruthie", "5.3.0", "2e0b5eeeab34b8112333908fd7a057c3b66d91052f9af3763644d1e5d0a14f26", held_out=False),
    Font("sedgwick-ave", "5.3.0", "378d3d70f69fb7c7382cbbd3dc3663bc409bd45dee5711aa8543afee85de2f14", held_out=False),
    Font("sedgwick-ave-display", "5.3.0", "807cd3bd5805d17b1b51cc0d6e93358a8bc6f4c330a9dfdafa4f4c7dd6fef435", held_out=True),
    Font("shadows-into-light", "5.3.0", "93cff8110a18bb3e1fb0179c95f706ed1e8037e2e527c4cb425b46deaddbd975", held_out=False),
    Font("shantell-sans", "5.3.0", "8aa8fe63633c806fac26f8ae5c712851eb67d8e1cd34555873d4e60abe685d31", held_out=False),
    Font("short-stack", "5.3.0", "db596e8545afc95f708ad2d5ac878771998f7378da84c56759527fbdb02f5836", held_out=False),
    Font("square-peg", "5.3.0", "f7da17dedee1e713341ea2b5a26bff3a8cb25e3dfe94e7a927c1ed56ecc4a1f7", held_out=False),
    Font("sriracha", "5.3.0", "5d58be0698ba9a1b621ca2fa6d44e0b08b50fed7d913c956a4c0a9fd9fbfaa40", held_out=True),
    Font("sue-ellen-francisco", "5.3.0", "e2c988155c07d4a26b81216397fa1841af0916c9737a61e05ea38bd1bd5361b1", held_out=False),
    Font("swanky-and-moo-moo", "5.3.0", "f4f292b60677133249ab543ca178fa6786d3dd9681899ef7ccde255bf956aced", held_out=False),
    Font("the-girl-next-door", "5.3.0", "301aabf8a983d1231988eea6e125338a3933bd69de8b14137df80840c8d8c5e8", held_out=False),
    Font("vujahday-script", "5.3.0", "cb27d115931cdf5def87e4f1c94d6ee76376bbbebd541fd4c4b5b0060bd69fe1", held_out=False),
    Font("waiting-for-the-sunrise", "5.3.0", "8a2cf921d4129a7d447370c559d0687579e842196c9e80a774fb428b1755911b", held_out=True),
    Font("yomogi", "5.3.0", "889ffc6f4e2587b8bd94d0b2c7ddd2f7bb3d89b25be1b6f3290775620a204210", held_out=False),
    Font("zen-kurenaido", "5.3.0", "1e20aeb08f255fbcf0ab5ccd03296d18bbeac3cefdb95e09c5b1676d73ac33b7", held_out=False),
    Font("zeyada", "5.3.0", "91d3613bd2d6ca6d14bfba2a7c3918ee4ced380d570d1b29a6ebfbcf56e7a6ff", held_out=False),
    Font("zhi-mang-xing", "5.3.0", "e003a2de2a5db5adab3a36a2ee041f034ba611edf29d57aa706aa86dc17e9c76", held_out=False),
)


def training_fonts() -> tuple[Font, ...]:
    """The faces training may use."""
    return tuple(font for font in FONTS if not font.held_out)


def held_out_fonts() -> tuple[Font, ...]:
    """The faces kept out of training, to measure unseen styles."""
    return tuple(font for font in FONTS if font.held_out)


def cache_dir() -> Path:
    """Where the font files live: ``$DOCPROC_FONT_DIR``, else ``$XDG_CACHE_HOME/docproc/fonts``."""
    return cache.cache_dir("DOCPROC_FONT_DIR", "fonts")


def _verified(font: Font, path: Path) -> Path:
    actual = sha256_of(path)
    if actual != font.sha256:
        raise DatasetError(
            f"Font file {path} failed its checksum (SHA-256 {actual}, expected {font.sha256} for {font.package}). "
            f"Delete it and run `python -m docproc.datasets.fonts` to fetch it again."
        )
    return path


def _fetch_one(font: Font, directory: Path, npm: str) -> Path:
    target = directory / font.file_name
    if target.is_file():
        return _verified(font, target)
    with tempfile.TemporaryDirectory(prefix="docproc-font-") as tmp:
        tarball = cache.npm_pack(npm, font.package, Path(tmp))
        with tarfile.open(tarball) as archive:
            try:
                source = archive.extractfile(f"package/files/{font.file_name}")
            except KeyError:
                source = None
            if source is None:
                raise DatasetError(f"{tarball.name} has no files/{font.file_name}; the package is not the expected one.")
            # Written beside the target, then renamed: an interrupted fetch leaves no half file.
            partial = directory / f"{font.file_name}.partial"
            with partial.open("wb") as out:
                shutil.copyfileobj(source, out)
    _verified(font, partial)
    partial.replace(target)
    return target


def fetch(fonts: Iterable[Font] = FONTS, directory: Path | None = None) -> dict[str, Path]:
    """Make sure the verified font files are in ``directory`` (default: ``cache_dir()``);
    returns each font's file by font name. Downloads only what is missing."""
    directory = directory or cache_dir()
    fonts = tuple(fonts)
    missing = [font for font in fonts if not (directory / font.file_name).is_file()]
    npm = shutil.which("npm")
    if missing and npm is None:
        raise DatasetError(
            f"npm is not installed, and it is needed once to fetch {len(missing)} handwriting fonts from the npm "
            f"@fontsource collection. Install it (Debian: `apt-get install npm`) or put the files in {directory} "
            "(or set DOCPROC_FONT_DIR to a folder that has them)."
        )
    directory.mkdir(parents=True, exist_ok=True)
    # npm spends most of its time waiting on the registry: a few packs at once.
    with ThreadPoolExecutor(max_workers=8) as pool:
        paths = list(pool.map(lambda font: _fetch_one(font, directory, npm or "npm"), fonts))
    return {font.name: path for font, path in zip(fonts, paths)}


if __name__ == "__main__":
    where = fetch()
    print(f"{len(where)} fonts verified in {cache_dir()} ({len(held_out_fonts())} held out of training)")
