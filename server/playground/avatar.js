// The avatar in 3D: three.js's GLTFLoader with the meshopt decoder reads the GLB the API points
// at (EXT_meshopt_compression), framed on its bounding box like tools/render/render.html does.
// Live slider states arrive as morph weights on the GLB's own morph targets.
import * as THREE from 'three';
import { GLTFLoader } from 'three/addons/loaders/GLTFLoader.js';
import { MeshoptDecoder } from 'three/addons/libs/meshopt_decoder.module.js';
import { OrbitControls } from 'three/addons/controls/OrbitControls.js';

export class AvatarStage {
  constructor(canvas) {
    this.canvas = canvas;
    this.renderer = new THREE.WebGLRenderer({ canvas, antialias: true, preserveDrawingBuffer: true });
    this.renderer.setClearColor(new THREE.Color(0xf1f2f5));
    this.scene = new THREE.Scene();
    this.scene.add(new THREE.HemisphereLight(0xffffff, 0x666666, 2.0));
    const sun = new THREE.DirectionalLight(0xffffff, 2.0);
    sun.position.set(-1, 2, 3);
    this.scene.add(sun);
    this.camera = new THREE.PerspectiveCamera(30, 1, 0.01, 100);
    this.controls = new OrbitControls(this.camera, canvas);
    this.controls.addEventListener('change', () => this.draw());
    this.loader = new GLTFLoader().setMeshoptDecoder(MeshoptDecoder);
    this.body = null;
    this.meshes = [];
    new ResizeObserver(() => this.resize()).observe(canvas);
  }

  resize() {
    const { clientWidth: w, clientHeight: h } = this.canvas;
    if (!w || !h) return;
    this.renderer.setPixelRatio(window.devicePixelRatio || 1);
    this.renderer.setSize(w, h, false);
    this.camera.aspect = w / h;
    this.camera.updateProjectionMatrix();
    this.draw();
  }

  async load(url) {
    await MeshoptDecoder.ready;
    const r = await fetch(url);
    if (!r.ok) throw new Error(`the mesh did not load (${r.status})`);
    const gltf = await this.loader.parseAsync(await r.arrayBuffer(), '');
    const first = this.body === null;
    if (this.body) this.scene.remove(this.body);
    this.body = gltf.scene;
    this.meshes = [];
    this.body.traverse((o) => { if (o.isMesh && o.morphTargetDictionary) this.meshes.push(o); });
    this.scene.add(this.body);
    if (first) this.frame();
    this.resize();
  }

  frame() {
    const box = new THREE.Box3().setFromObject(this.body);
    const size = box.getSize(new THREE.Vector3());
    const centre = box.getCenter(new THREE.Vector3());
    const dist = 0.6 * Math.max(size.x, size.y, size.z) / Math.tan(Math.PI * 15 / 180);
    this.camera.position.set(centre.x, centre.y, centre.z + dist);
    this.camera.near = dist / 100;
    this.camera.far = dist * 100;
    this.camera.updateProjectionMatrix();
    this.controls.target.copy(centre);
    this.controls.update();
  }

  morph(weights) {
    for (const mesh of this.meshes) {
      for (const [name, weight] of Object.entries(weights)) {
        const i = mesh.morphTargetDictionary[name];
        if (i !== undefined) mesh.morphTargetInfluences[i] = weight;
      }
    }
    this.draw();
  }

  draw() {
    if (this.body) this.renderer.render(this.scene, this.camera);
  }
}
